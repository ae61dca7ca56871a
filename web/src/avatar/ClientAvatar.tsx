import { useSessionContext, type TrackReference } from '@livekit/components-react';
import type { RemoteParticipant } from 'livekit-client';
import { useEffect, useRef, useState } from 'react';
import {
  CLIENT_AVATAR_VERSION,
  CLIENT_RENDERERS,
  RPC_CLIENT_FAILED,
  RPC_CLIENT_READY,
  type ClientAvatarSpec,
  type ClientFailed,
  type ClientReady,
  type ClientRenderer,
} from '../../../src/avatar/client/protocol';
import { createFace2d } from './face2d';
import type { AvatarRenderer } from './renderer';
import { tapVoice, type VoiceTap } from './voice-tap';

export interface ClientAvatarProps {
  spec: ClientAvatarSpec;
  agent: RemoteParticipant;
  /** The agent's voice as this page receives it (useVoiceAssistant's audioTrack). */
  audioTrack: TrackReference | undefined;
}

/**
 * An avatar the worker asked this page to draw (`avatar.client`): tells the agent it draws it (or
 * cannot, or failed, so the worker falls back to video), then draws it every animation frame,
 * the mouth driven by the voice this page receives.
 */
export function ClientAvatar({ spec, agent, audioTrack }: ClientAvatarProps) {
  const { room } = useSessionContext();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [renderer, setRenderer] = useState<AvatarRenderer>();
  const [failure, setFailure] = useState<string>();
  const [tap, setTap] = useState<VoiceTap>();
  const specKey = JSON.stringify(spec);
  const mediaTrack = audioTrack?.publication?.track?.mediaStreamTrack;

  // The renderer, for this spec: say whether it can be drawn here, then build it.
  useEffect(() => {
    let cancelled = false;
    let built: AvatarRenderer | undefined;
    setRenderer(undefined);
    setFailure(undefined);
    const answer = (method: string, payload: ClientReady | ClientFailed) => tellAgent(room.localParticipant, agent.identity, method, payload);
    const renderers = supportedRenderers();
    void answer(RPC_CLIENT_READY, { v: CLIENT_AVATAR_VERSION, profile: spec.profile, renderers });
    if (!renderers.includes(spec.renderer)) {
      setFailure(`this browser cannot draw ${spec.renderer}`);
      return;
    }
    createRenderer(canvas.current!, spec).then(
      (r) => {
        if (cancelled) return r.close();
        built = r;
        setRenderer(r);
      },
      (error: unknown) => {
        if (cancelled) return;
        const reason = error instanceof Error ? error.message : String(error);
        setFailure(reason);
        void answer(RPC_CLIENT_FAILED, { v: CLIENT_AVATAR_VERSION, profile: spec.profile, renderer: spec.renderer, reason: reason.slice(0, 500) });
      },
    );
    return () => {
      cancelled = true;
      built?.close();
    };
    // specKey stands for spec.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [specKey, agent.identity, room]);

  // The received voice, listened to.
  useEffect(() => {
    if (!mediaTrack) return;
    let closed = false;
    let made: VoiceTap | undefined;
    tapVoice(mediaTrack).then(
      (t) => {
        if (closed) return t.close();
        made = t;
        setTap(t);
      },
      (error: unknown) => console.warn('cannot listen to the agent voice; the avatar will not move its lips', error),
    );
    return () => {
      closed = true;
      made?.close();
      setTap(undefined);
    };
  }, [mediaTrack]);

  // One frame per animation frame.
  useEffect(() => {
    if (!renderer) return;
    const t0 = performance.now();
    let raf = 0;
    // Once a second the canvas says how the page keeps up (data-fps, data-draw-ms: mean time of
    // one draw on the main thread, data-draw-max-ms), for devtools and bench/client-avatar.ts.
    let frames = 0;
    let drawMs = 0;
    let drawMaxMs = 0;
    let since = t0;
    const tick = (now: number) => {
      const voice = tap?.current() ?? { mouth: {}, speaking: false };
      const start = performance.now();
      renderer.draw({ timeMs: now - t0, mouth: voice.mouth, speaking: voice.speaking });
      const took = performance.now() - start;
      frames++;
      drawMs += took;
      drawMaxMs = Math.max(drawMaxMs, took);
      if (now - since >= 1000 && canvas.current) {
        Object.assign(canvas.current.dataset, {
          fps: ((frames * 1000) / (now - since)).toFixed(1),
          drawMs: (drawMs / frames).toFixed(2),
          drawMaxMs: drawMaxMs.toFixed(1),
        });
        frames = 0;
        drawMs = 0;
        drawMaxMs = 0;
        since = now;
      }
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [renderer, tap]);

  const lips = renderer?.lips;
  return (
    <>
      <canvas
        key={specKey}
        ref={canvas}
        className="stage-canvas"
        data-testid="avatar-canvas"
        data-renderer={spec.renderer}
        data-state={failure ? 'failed' : renderer ? 'drawing' : 'loading'}
        data-lips={lips ? `${lips.x},${lips.y},${lips.w},${lips.h}` : undefined}
        aria-label={`Avatar (${spec.renderer}, drawn in this browser)`}
      />
      {failure && (
        <p className="stage-notice" role="status">
          The avatar cannot be drawn here ({failure}); switching to video.
        </p>
      )}
    </>
  );
}

/** The renderers this browser can draw: face2d wherever there is a 2D canvas, gltf and splat with WebGL2. */
export function supportedRenderers(): ClientRenderer[] {
  const out: ClientRenderer[] = [];
  const webgl = hasWebGl();
  for (const r of CLIENT_RENDERERS) {
    if (r === 'face2d' && document.createElement('canvas').getContext('2d')) out.push(r);
    if ((r === 'gltf' || r === 'splat') && webgl) out.push(r);
  }
  return out;
}

function hasWebGl(): boolean {
  const gl = document.createElement('canvas').getContext('webgl2');
  gl?.getExtension('WEBGL_lose_context')?.loseContext();
  return !!gl;
}

async function createRenderer(canvas: HTMLCanvasElement, spec: ClientAvatarSpec): Promise<AvatarRenderer> {
  switch (spec.renderer) {
    case 'face2d':
      return createFace2d(canvas, spec);
    case 'gltf':
      return (await import('./gltf')).createGltf(canvas, spec);
    case 'splat':
      return (await import('./splat')).createSplat(canvas, spec);
  }
}

/** RPC to the agent, tried a few times (the agent registers its methods as it sets the spec; a packet can be lost). */
async function tellAgent(
  participant: { performRpc(p: { destinationIdentity: string; method: string; payload: string }): Promise<string> },
  identity: string,
  method: string,
  payload: ClientReady | ClientFailed,
): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await participant.performRpc({ destinationIdentity: identity, method, payload: JSON.stringify(payload) });
      return;
    } catch (error) {
      if (attempt === 2) console.warn(`telling the agent ${method} failed`, error);
      else await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)));
    }
  }
}
