/** Loopback fakes of the streaming avatar providers' APIs, for tests of src/avatar/remote. */
export * from './anam.js';
export * from './bey.js';
export * from './common.js';
export * from './hedra.js';
export * from './lemonslice.js';
export * from './liveavatar.js';
export * from './selfhosted.js';
export * from './tavus.js';
