export { FakeSignallingServer, SIGNALLING_PROTOCOL_VERSION, type LoggedMessage, type SignallingOptions } from './signalling-server.js';
export { FakeStreamer, type FakeStreamerOptions, type OfferMode, type ReceivedAudio, type ReceivedData } from './streamer.js';
export { cellSize, paintCode, readCode, readCodeFromLuma, readCodeFromRgba, unwrapTime, type FrameCode } from './frame-code.js';
