/**
 * Child of bench/soak.ts: one worker process running conversations back to back, one at a time,
 * for the given minutes. After each conversation has closed it runs a full GC and reports the
 * process's memory, so the parent can see whether anything a conversation leaves behind piles up.
 */
import { initializeLogger } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { dispose } from '@livekit/rtc-node';
import { createLogger } from '../../src/logging.js';
import { childInput, collectGarbage, memoryMb, sendToParent } from './child.js';
import { startBenchConversation } from './conversation.js';
import { soakInput, type SoakSample } from './messages.js';

async function main(): Promise<void> {
  const input = childInput(soakInput);
  initializeLogger({ pretty: false, level: 'error' });
  const logger = createLogger({ level: 'error', secrets: [] });
  const t0 = performance.now();
  const deadline = t0 + input.minutes * 60_000;
  collectGarbage();
  await sendToParent({
    conversation: 0,
    atMin: 0,
    memory: memoryMb(),
    endToEndMs: [],
    failedTurns: 0,
    frames: { ticks: 0, frames: 0, dropped: 0, late: 0, worstLateMs: 0 },
  } satisfies SoakSample);

  for (let n = 1; performance.now() < deadline; n++) {
    // A fresh VAD per conversation, as each job process loads its own (see startBenchConversation).
    const conversation = await startBenchConversation(input.env, logger, input.sharedVad ? undefined : await silero.VAD.load());
    const endToEndMs: number[] = [];
    let failedTurns = 0;
    for (let k = 0; k < input.turnsPerConversation; k++) {
      try {
        endToEndMs.push((await conversation.turn()).firstAvatarFrameMs);
      } catch (err) {
        failedTurns++;
        process.stderr.write(`conversation ${n}, turn ${k}: ${(err as Error).message}\n`);
      }
    }
    await conversation.close();
    collectGarbage();
    const c = conversation.sink.counts;
    await sendToParent({
      conversation: n,
      atMin: (performance.now() - t0) / 60_000,
      memory: memoryMb(),
      endToEndMs,
      failedTurns,
      frames: { ...c, worstLateMs: Math.round(c.worstLateMs) },
    } satisfies SoakSample);
  }
}

await main();
await dispose();
process.exit(0);
