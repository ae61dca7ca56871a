/** Loopback fakes of the streaming avatar providers' APIs, for tests of src/avatar/remote. */
export * from './anam.js';
export * from './bey.js';
export * from './common.js';
export * from './hedra.js';
export * from './lemonslice.js';
export * from './liveavatar.js';
export * from './selfhosted.js';
export * from './tavus.js';
export * from './avatario.js';
export * from './did.js';
export * from './keyframe.js';
export * from './protoface.js';
export * from './runway.js';
export * from './simli.js';
export * from './synthesia.js';
export * from './trugen.js';
export * from './cases.js';
