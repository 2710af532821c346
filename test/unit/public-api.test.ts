import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import * as internal from '../../src/internal.js';
import * as testing from '../../src/testing.js';

describe('the public API', () => {
  it('exports these values and no others (types are checked by tsc)', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'ErrorCodes',
        'RouteMQApp',
        'RouteMQError',
        'RouteMQService',
        'Router',
        'Secret',
        'WorkerManager',
        'createLogger',
        'describeConfig',
        'isRouteMQError',
        'loadConfig',
        'rateLimit',
        'silentLogger',
        'startRouteMQ',
      ].sort(),
    );
  });

  it('exports createTestRouter and TestRouter from routemq/testing', () => {
    expect(Object.keys(testing).sort()).toEqual(['TestRouter', 'createTestRouter']);
  });

  it('keeps the building blocks the benchmarks use in routemq/internal', () => {
    expect(Object.keys(internal).sort()).toEqual([
      'Consumer',
      'RouteTable',
      'compileRoutes',
      'compose',
      'loadRouteFiles',
    ]);
  });
});
