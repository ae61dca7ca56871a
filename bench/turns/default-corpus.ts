/**
 * The bench's default corpus, made on the fly with espeak-ng (or flite): 32 user turns in eight voices and at
 * rates from slow to fast, a third of them with a thinking pause inside ("I'd like to move my
 * booking... to Thursday"), where a turn-taker that answers at the first silence cuts the user off.
 * Written in the manifest format of corpus.ts, so the bench reads it exactly as it reads a corpus
 * of real recordings.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeWav } from '../../src/audio/wav.js';
import { concatPcm } from '../../src/audio/pcm.js';
import { silence, synthesize, type SpeechEngine } from '../../test/fakes/speech.js';
import type { Manifest } from './corpus.js';

const SAMPLE_RATE = 16_000;
/** espeak-ng voices (+variant): US, British, Scottish, RP, Caribbean, New York; male and female. */
const VOICES = ['en-us', 'en-gb+f3', 'en-gb-scotland', 'en-us+f2', 'en-gb-x-rp', 'en-029+f4', 'en-us-nyc', 'en-gb-x-gbclan+m3'];
const RATES = [150, 175, 200, 165, 190, 140, 210, 180];
/**
 * flite's English voices (US female and male, Scottish, US male diphones): another engine, whose
 * prosody LiveKit's audio end-of-turn model hears differently from espeak-ng's (`--voices flite`).
 */
const FLITE_VOICES = ['slt', 'awb', 'rms', 'kal16'];

/** "..." marks a pause inside the turn; its length cycles through PAUSES_MS. */
const TURNS = [
  'Hi, can you hear me?',
  "I'd like to move my booking... to Thursday.",
  'What time do you open tomorrow?',
  'Yes.',
  'Could you tell me... how much the premium plan costs per month?',
  'My order number is four five seven two.',
  'Okay, that sounds good.',
  'Hmm... let me think... actually, make it Friday instead.',
  'Is there parking near the office?',
  'No, I meant the other address.',
  'Can I bring my dog?',
  'So the thing is... my card was charged twice last week.',
  'What is the weather going to be like this weekend?',
  'Thanks, that is all I needed.',
  'Wait, which one is cheaper?',
  "I'm looking for a vegetarian restaurant... somewhere close to the station.",
  'How long does delivery usually take?',
  'Sure, go ahead.',
  'Can you repeat the last part, please?',
  'I need to cancel... no, sorry, I need to change my appointment.',
  'Do you have anything available before noon?',
  'Great.',
  "My name is Alex, and I'm calling about my internet connection.",
  'It keeps dropping... every evening around eight.',
  'Have you tried turning it off and on again?',
  'Could you send me the details by email?',
  'Well... I am not sure yet.',
  'What would you recommend for a beginner?',
  'Two adults and one child.',
  'And if I book today... do I still get the discount?',
  'Perfect, thank you so much.',
  'One more question: is breakfast included?',
];
const PAUSES_MS = [700, 1000, 500, 1300, 850];
const LEAD_MS = 600;
const TRAIL_MS = 300;

/** Writes the default corpus into `dir` (WAVs and manifest.json); returns how many turns. */
export async function writeDefaultCorpus(dir: string, engine: SpeechEngine = 'espeak-ng'): Promise<number> {
  const voices = engine === 'flite' ? FLITE_VOICES : VOICES;
  await mkdir(dir, { recursive: true });
  const manifest: Manifest = [];
  let pauseIndex = 0;
  for (const [i, line] of TURNS.entries()) {
    const voice = voices[i % voices.length]!;
    const wordsPerMinute = RATES[(i * 3) % RATES.length]!;
    const pieces = line.split('...').map((p) => p.trim()).filter(Boolean);
    const parts: Int16Array[] = [silence(LEAD_MS, SAMPLE_RATE).samples];
    for (const [k, piece] of pieces.entries()) {
      if (k > 0) parts.push(silence(PAUSES_MS[pauseIndex++ % PAUSES_MS.length]!, SAMPLE_RATE).samples);
      parts.push((await synthesize(piece, { sampleRate: SAMPLE_RATE, voice, wordsPerMinute, engine })).samples);
    }
    parts.push(silence(TRAIL_MS, SAMPLE_RATE).samples);
    const wav = `turn-${String(i + 1).padStart(2, '0')}.wav`;
    await writeFile(join(dir, wav), encodeWav({ sampleRate: SAMPLE_RATE, channels: 1, samples: concatPcm(parts) }));
    // The manifest keeps the pause as a transcript would: "my booking... to Thursday."
    manifest.push({ wav, text: pieces.join('... ') });
  }
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest.length;
}
