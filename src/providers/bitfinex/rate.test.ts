import { bitfinexActivitiesPerSecond } from './rate';

describe('bitfinexActivitiesPerSecond', () => {
  const production = { requests: 90, windowSeconds: 60, safetyMargin: 0.2, maxConcurrentRequests: 4 };

  it('keeps a window of steady dispatch, the burst and a stalled backlog under the limit less its margin', () => {
    const rate = bitfinexActivitiesPerSecond(production) ?? 0;
    expect(rate).toBeCloseTo(64 / 61, 6);
    const worstWindow = rate * production.windowSeconds + rate + 4 + production.maxConcurrentRequests;
    expect(worstWindow).toBeLessThanOrEqual(90 * 0.8);
  });

  it('the test stack: 90 in 6 s gives about 9 a second, well below the 15 the limit averages', () => {
    const rate = bitfinexActivitiesPerSecond({ ...production, windowSeconds: 6 }) ?? 0;
    expect(rate).toBeCloseTo(64 / 7, 6);
    expect(rate).toBeLessThan(90 / 6);
  });

  it('refuses a budget the bursts alone would use up', () => {
    expect(bitfinexActivitiesPerSecond({ ...production, requests: 10 })).toBeUndefined();
  });
});
