import { vi } from 'vitest';

/**
 * The browser's media devices, which happy-dom does not have, on a secure page: two microphones, and a
 * getUserMedia that answers as the test says (a person clicking Allow or Block, or not yet).
 */
export type PermissionAnswer = 'pending' | 'denied' | 'no-device';

export function installMediaDevices(answer: PermissionAnswer = 'pending') {
  const getUserMedia = vi.fn((): Promise<MediaStream> => {
    if (answer === 'denied') return Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    if (answer === 'no-device') return Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    return new Promise<MediaStream>(() => undefined);
  });
  const devices = [
    { deviceId: 'mic-1', groupId: 'g1', kind: 'audioinput', label: 'Built-in microphone' },
    { deviceId: 'mic-2', groupId: 'g2', kind: 'audioinput', label: 'Headset microphone' },
  ].map((d) => ({ ...d, toJSON: () => d }));
  const mediaDevices = {
    getUserMedia,
    enumerateDevices: vi.fn(async () => devices as MediaDeviceInfo[]),
    getSupportedConstraints: () => ({}),
    addEventListener: vi.fn(),
    removeEventListener: vi.fn(),
  };
  Object.defineProperty(navigator, 'mediaDevices', { value: mediaDevices, configurable: true });
  // happy-dom has no isSecureContext; a real page on https:// or localhost is one.
  Object.defineProperty(window, 'isSecureContext', { value: true, configurable: true });
  return { getUserMedia };
}
