import { describe, expect, it } from 'vitest';
import { FLAP_WINDOW_MS, FlapDetector, MAX_FLAPS } from '../../src/mqtt/flap-detector.js';

describe('FlapDetector', () => {
  it('calls a connection stable when it lived at least the flap window', () => {
    const detector = new FlapDetector();
    detector.connected(1_000);
    expect(detector.closed(1_000 + FLAP_WINDOW_MS)).toBe('stable');
    expect(detector.flaps).toBe(0);
  });

  it('counts a close within the flap window as a flap', () => {
    const detector = new FlapDetector();
    detector.connected(1_000);
    expect(detector.closed(1_000 + FLAP_WINDOW_MS - 1)).toBe('flap');
    expect(detector.flaps).toBe(1);
  });

  it('reports a takeover on the third flap in a row', () => {
    expect(MAX_FLAPS).toBe(3);
    const detector = new FlapDetector();
    detector.connected(0);
    expect(detector.closed(100)).toBe('flap');
    detector.connected(600);
    expect(detector.closed(700)).toBe('flap');
    detector.connected(1_200);
    expect(detector.closed(1_300)).toBe('takeover');
    expect(detector.flaps).toBe(3);
  });

  it('starts the count over after a stable connection', () => {
    const detector = new FlapDetector();
    detector.connected(0);
    expect(detector.closed(10)).toBe('flap');
    detector.connected(20);
    expect(detector.closed(30)).toBe('flap');
    detector.connected(40);
    expect(detector.closed(40 + FLAP_WINDOW_MS)).toBe('stable');
    expect(detector.flaps).toBe(0);
    detector.connected(10_000);
    expect(detector.closed(10_001)).toBe('flap');
    detector.connected(10_002);
    expect(detector.closed(10_003)).toBe('flap');
    detector.connected(10_004);
    expect(detector.closed(10_005)).toBe('takeover');
  });

  it('measures each flap from the latest CONNACK, not the first one', () => {
    const detector = new FlapDetector();
    detector.connected(0);
    expect(detector.closed(4_000)).toBe('flap');
    // 8 s after the first CONNACK, but only 1 s after the second: still a flap.
    detector.connected(7_000);
    expect(detector.closed(8_000)).toBe('flap');
  });
});
