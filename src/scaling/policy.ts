/** What a pool's workers report, averaged or summed over the pool (see the autoscaler). */
export interface ScalingSignals {
  /** Time in handlers ÷ wall time, averaged over the pool's workers, 0..1. */
  readonly busyRatio: number;
  /** An external backlog (`metrics:queue_depth`), when a producer publishes one. */
  readonly queueDepth?: number | undefined;
}

/** Bounds and pace of the autoscaler for one pool. */
export interface ScalingPolicyConfig {
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** The busy ratio to aim for (Kubernetes HPA's target utilisation). @defaultValue 0.7 */
  readonly targetBusy: number;
  /** Within ±tolerance of the target, nothing changes (HPA's 10%). @defaultValue 0.1 */
  readonly tolerance: number;
  /** Backlog one worker is expected to absorb (the queue-depth rule). @defaultValue 100 */
  readonly queueDepthPerWorker: number;
  readonly scaleUpCooldownMs: number;
  readonly scaleDownCooldownMs: number;
  /** Scale down only to the highest recommendation of this window, so a dip does not flap the pool. */
  readonly scaleDownStabilizationMs: number;
}

/** What the policy remembers between decisions. */
export interface ScalingState {
  readonly current: number;
  readonly lastScaleUpAt: number | undefined;
  readonly lastScaleDownAt: number | undefined;
  /** Recent recommendations (newest last), for the scale-down stabilisation window. */
  readonly recommendations: readonly { readonly at: number; readonly desired: number }[];
  /**
   * When the policy first decided for this pool. A scale-down waits until a whole stabilisation window has been
   * watched: a new leader, or one whose memory was lost with Redis, knows nothing of the last few minutes.
   */
  readonly since?: number | undefined;
}

/** A decision: the count to run, why, and the state to keep for next time. */
export interface ScalingDecision {
  readonly desired: number;
  readonly reason: string;
  readonly state: ScalingState;
}

const EPSILON = 1e-9;

/**
 * The autoscaler's pure policy: (current count, signals, config) → desired count. Target utilisation as in the
 * Kubernetes HPA (`ceil(current × busy ÷ targetBusy)`, with a tolerance band), or the queue-depth rule
 * (`ceil(queueDepth ÷ queueDepthPerWorker)`), whichever asks for more; clamped to [minWorkers, maxWorkers];
 * scale-ups and scale-downs each wait for their own cooldown, and a scale-down never goes below the highest
 * recommendation of the stabilisation window.
 */
export function decideScale(
  state: ScalingState,
  signals: ScalingSignals,
  config: ScalingPolicyConfig,
  now: number,
): ScalingDecision {
  const current = state.current;
  const ratio = signals.busyRatio / config.targetBusy;
  // EPSILON absorbs binary rounding: 0.77 ÷ 0.7 is 1.1000000000000001, and 10 × 0.49 ÷ 0.7 is 7.000000000000001.
  const byBusy = Math.abs(ratio - 1) <= config.tolerance + EPSILON ? current : Math.ceil(current * ratio - EPSILON);
  const byQueue = signals.queueDepth === undefined ? 0 : Math.ceil(signals.queueDepth / config.queueDepthPerWorker);
  const clamp = (n: number): number => Math.min(config.maxWorkers, Math.max(config.minWorkers, n));
  const recommended = clamp(Math.max(byBusy, byQueue));
  const recommendations = [
    ...state.recommendations.filter((r) => now - r.at < config.scaleDownStabilizationMs),
    { at: now, desired: recommended },
  ];
  const inputs =
    `busy ${signals.busyRatio.toFixed(2)} (target ${config.targetBusy})` +
    (signals.queueDepth === undefined ? '' : `, queue depth ${signals.queueDepth}`);
  const since = state.since ?? now;
  const keep = (reason: string): ScalingDecision => ({
    desired: current,
    reason,
    state: { ...state, recommendations, since },
  });

  if (recommended > current) {
    if (state.lastScaleUpAt !== undefined && now - state.lastScaleUpAt < config.scaleUpCooldownMs) {
      return keep(`scale-up to ${recommended} waits for its cooldown; ${inputs}`);
    }
    return {
      desired: recommended,
      reason: `scale up ${current} → ${recommended}: ${inputs}`,
      state: { ...state, current: recommended, lastScaleUpAt: now, recommendations, since },
    };
  }
  if (recommended < current) {
    const stable = Math.max(...recommendations.map((r) => r.desired));
    if (stable >= current || now - since < config.scaleDownStabilizationMs) {
      return keep(`scale-down held by the stabilisation window; ${inputs}`);
    }
    if (state.lastScaleDownAt !== undefined && now - state.lastScaleDownAt < config.scaleDownCooldownMs) {
      return keep(`scale-down to ${stable} waits for its cooldown; ${inputs}`);
    }
    return {
      desired: stable,
      reason: `scale down ${current} → ${stable}: ${inputs}`,
      state: { ...state, current: stable, lastScaleDownAt: now, recommendations, since },
    };
  }
  return keep(`steady at ${current}: ${inputs}`);
}
