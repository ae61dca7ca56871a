export { unrealAdapter } from './adapter.js';
export { unrealProfileSchema, type UnrealProfile } from './profiles.js';
export { UnrealAvatarOutput, type BridgeStats } from './output.js';
export { UnrealLink } from './link.js';
export { avatarInteractionSchema, type AvatarInteraction } from './ui-interaction.js';
export { encodeUIInteraction, decodeStringMessage, TO_STREAMER, FROM_STREAMER } from './data-channel.js';
export { unrealExpressionTools, type InteractionTarget } from './tools.js';
