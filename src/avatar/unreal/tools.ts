/**
 * LLM tools that let the agent move the MetaHuman: an emotion or a gesture, sent to Unreal as a
 * UIInteraction. Only the names the profile lists are offered (the project must handle them), so
 * the model cannot invent one. The agent adds these tools when its avatar is an Unreal one.
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import type { AvatarInteraction } from './ui-interaction.js';
import type { UnrealProfile } from './profiles.js';

export interface InteractionTarget {
  /** False when no data channel is open (Unreal reconnecting): the tool says so to the model. */
  interact(interaction: AvatarInteraction): boolean;
}

/** A tool map an Agent takes as `tools` (merged with its own): the key is the tool's name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- agents' own map type uses any here
export type ExpressionTools = Record<string, llm.AnonFunctionTool<any, any, any>>;

export function unrealExpressionTools(target: InteractionTarget, expressions: UnrealProfile['expressions']): ExpressionTools {
  const tools: ExpressionTools = {};
  const [firstEmotion, ...emotions] = expressions.emotions;
  if (firstEmotion) {
    tools.set_emotion = llm.tool({
      description: `Show an emotion on your face while you speak. One of: ${expressions.emotions.join(', ')}.`,
      parameters: z.object({
        name: z.enum([firstEmotion, ...emotions]),
        intensity: z.number().min(0).max(1).describe('0 = faint, 1 = strong').optional(),
      }),
      execute: async ({ name, intensity }) => (target.interact({ type: 'emotion', name, intensity: intensity ?? 1 }) ? 'shown' : 'the avatar is not connected right now'),
    });
  }
  const [firstGesture, ...gestures] = expressions.gestures;
  if (firstGesture) {
    tools.play_gesture = llm.tool({
      description: `Make a gesture. One of: ${expressions.gestures.join(', ')}.`,
      parameters: z.object({ name: z.enum([firstGesture, ...gestures]) }),
      execute: async ({ name }) => (target.interact({ type: 'gesture', name }) ? 'done' : 'the avatar is not connected right now'),
    });
  }
  return tools;
}
