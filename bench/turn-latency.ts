/**
 * The worker's own share of a turn's latency. The whole pipeline runs as `converse` runs it, with
 * the real plugins against the protocol fakes, which are told to add provider-like latencies.
 * Over N turns it measures end of speech → first avatar frame, then subtracts what the fakes were
 * told to add and the endpointing wait the config asks for: what remains is ours (VAD and turn
 * decision overhead, sentence splitting, resampling, the video tick, the event loop).
 * Run: npx tsx bench/turn-latency.ts [turns]
 */
import { pathToFileURL } from 'node:url';
import { dispose } from '@livekit/rtc-node';
import type { TurnTimings } from '../src/metrics/turn-timeline.js';
import { DEFAULT_MIN_PAUSE_MS } from '../test/fakes/deepgram.js';
import { startPipeline } from '../test/support/pipeline.js';
import { percentile } from './support/stats.js';
import { BENCH_ENV, ENDPOINTING_MIN_DELAY_MS, INJECTED, injectProviderLatency, QUESTION, REPLY, VAD_MIN_SILENCE_MS, workerAdded } from './support/worker-added.js';

export async function benchTurnLatency(turns = 20): Promise<void> {
  const pipeline = await startPipeline({
    transcripts: Array.from({ length: turns + 1 }, () => QUESTION),
    reply: REPLY,
    env: { ...BENCH_ENV },
  });
  injectProviderLatency(pipeline.deepgram, pipeline.openai);
  const results: TurnTimings[] = [];
  try {
    for (let i = 0; i <= turns; i++) {
      const turn = pipeline.nextTurn(20_000);
      await pipeline.say(QUESTION, { trailMs: 300 });
      const t = await turn;
      await pipeline.replyDone();
      if (i > 0) results.push(t); // the first turn warms caches (espeak in the fake, JIT)
      process.stderr.write(`\rturn latency: ${i}/${turns} turns`);
    }
  } finally {
    process.stderr.write('\n');
    await pipeline.close();
  }

  const endpointingWait = Math.max(VAD_MIN_SILENCE_MS, ENDPOINTING_MIN_DELAY_MS);
  const links = results.flatMap((t) => {
    const added = workerAdded(t);
    return added ? [{ ...added, chainBound: t.firstAvatarFrameMs > endpointingWait }] : [];
  });
  const row = (name: string, values: (number | undefined)[]) => {
    const v = values.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    return `${name.padEnd(48)} ${String(percentile(v, 0.5)).padStart(6)} ${String(percentile(v, 0.95)).padStart(6)}`;
  };
  console.log(`\n## One turn, ms after the end of the user's speech, over ${results.length} turns (fakes on loopback)`);
  console.log(`injected: STT final +${INJECTED.sttFinalMs} after the fake's ${DEFAULT_MIN_PAUSE_MS} ms endpointing, LLM first token +${INJECTED.llmTtftMs}, TTS first byte +${INJECTED.ttsTtfbMs}; turn decision waits ${endpointingWait} (VAD silence ${VAD_MIN_SILENCE_MS}, ENDPOINTING_MIN_DELAY_MS ${ENDPOINTING_MIN_DELAY_MS})`);
  console.log(`${'stage'.padEnd(48)} ${'median'.padStart(6)} ${'p95'.padStart(6)}`);
  console.log(row('final transcript', results.map((t) => t.transcriptMs)));
  console.log(row('LLM first token', results.map((t) => t.llmFirstTokenMs)));
  console.log(row('TTS first audio', results.map((t) => t.ttsFirstAudioMs)));
  console.log(row('first avatar frame (end to end)', results.map((t) => t.firstAvatarFrameMs)));
  console.log(`worker-added, link by link (measured − injected):`);
  console.log(row('  STT plugin + transport', links.map((l) => l.stt)));
  console.log(row('  transcript → LLM request → first token', links.map((l) => l.llm)));
  console.log(row('  first token → sentence → TTS first audio', links.map((l) => l.tts)));
  console.log(row('  TTS audio → first avatar frame (tick, render)', links.map((l) => l.avatar)));
  console.log(row('  total on the critical path', links.map((l) => l.total)));
  console.log(`the chain, not the turn decision, was the critical path in ${links.filter((l) => l.chainBound).length}/${links.length} turns`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchTurnLatency(Number(process.argv[2] ?? 20));
  await dispose();
  process.exit(0);
}
