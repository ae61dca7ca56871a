import { useMediaDeviceSelect, useTrackToggle } from '@livekit/components-react';
import { Track } from 'livekit-client';
import { useCallback, useState } from 'react';

export interface ControlBarProps {
  onEnd: () => void;
}

/** Mute, microphone choice, end call. Native controls: big enough for a thumb, and accessible. */
export function ControlBar({ onEnd }: ControlBarProps) {
  const [deviceError, setDeviceError] = useState<string>();
  // Stable: the hooks below rebuild their device observers whenever this callback changes.
  const onDeviceError = useCallback((e: Error) => setDeviceError(`Microphone: ${e.message}`), []);
  const mic = useTrackToggle({ source: Track.Source.Microphone, onDeviceError });
  return (
    <footer className="control-bar">
      <button
        type="button"
        className="button"
        aria-pressed={!mic.enabled}
        disabled={mic.pending}
        onClick={() => {
          setDeviceError(undefined);
          void mic.toggle();
        }}
      >
        {mic.enabled ? 'Mute' : 'Unmute'}
      </button>
      {/* Outside a secure context there are no media devices to list (and the call cannot start). */}
      {window.isSecureContext && <MicrophoneSelect onError={onDeviceError} />}
      <button type="button" className="button button-end" onClick={onEnd}>
        End call
      </button>
      {deviceError && (
        <p className="problem" role="alert">
          {deviceError}
        </p>
      )}
    </footer>
  );
}

function MicrophoneSelect({ onError }: { onError: (e: Error) => void }) {
  // requestPermissions: false — the call already holds the microphone, so the names are there;
  // this list must never be what prompts for it.
  const { devices, activeDeviceId, setActiveMediaDevice } = useMediaDeviceSelect({ kind: 'audioinput', requestPermissions: false, onError });
  // Until permission is granted browsers list devices without names; one choice is no choice.
  if (devices.length < 2) return null;
  return (
    <label className="device-select">
      <span className="visually-hidden">Microphone</span>
      <select value={activeDeviceId} onChange={(e) => void setActiveMediaDevice(e.target.value).catch(onError)}>
        {devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || `Microphone ${i + 1}`}
          </option>
        ))}
      </select>
    </label>
  );
}
