/** Local, protocol-faithful fakes of the cloud speech and language services, for tests. */
export * from './deepgram.js';
export * from './elevenlabs.js';
export * from './frames.js';
export * from './knobs.js';
export * from './openai.js';
export * from './script.js';
export * from './speech.js';
export * from './vad.js';
export * from './wait.js';
