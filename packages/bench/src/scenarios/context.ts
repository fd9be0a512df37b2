/** What every scenario gets: the running Parley, the load generators, the users, the sizes. */
import type { ConsumerLag } from '../consumer-lag';
import type { ClientSpec } from '../load/protocol';
import type { RunningParley } from '../parley/launch';
import type { BenchUser, Population } from '../setup/population';
import type { Bench } from '../traffic';

export interface Sizes {
  /** Load-generator processes. */
  workers: number;
  pairs: number;
  /** Aggregate messages/s of `pairs` (both sides of every pair send). */
  pairsRate: number;
  pairsDurationMs: number;
  warmupMs: number;
  /** Aggregate rates `max` steps through, until one fails. */
  maxRates: number[];
  maxStepMs: number;
  /** p99 bound of `max` (ms). */
  maxP99Ms: number;
  fanoutMembers: number;
  fanoutRate: number;
  fanoutDurationMs: number;
  /** Message rates of the fan-out ceiling search (each one reaches every member). */
  fanoutStepRates: number[];
  fanoutStepMs: number;
  idleConnections: number;
  /** Connections opened per second (open loop). */
  idleOpenRate: number;
  stormClients: number;
  /** Messages per conversation sent while the storm clients are away. */
  stormMissed: number;
  /** Connections per second when the scenarios connect their clients. */
  connectRate: number;
}

export const FULL: Sizes = {
  workers: 4,
  pairs: 200,
  pairsRate: 1000,
  pairsDurationMs: 20_000,
  warmupMs: 5_000,
  // From well below the pairs rate, so that a slow machine still shows where it passes.
  maxRates: [100, 200, 400, 700, 1000, 1500, 2000, 3000, 4000, 5000],
  maxStepMs: 8_000,
  maxP99Ms: 100,
  fanoutMembers: 1000,
  fanoutRate: 20,
  fanoutDurationMs: 15_000,
  fanoutStepRates: [20, 50, 100, 200, 400],
  fanoutStepMs: 5_000,
  idleConnections: 20_000,
  idleOpenRate: 1_500,
  stormClients: 5_000,
  stormMissed: 5,
  connectRate: 1_000,
};

export const QUICK: Sizes = {
  workers: 2,
  pairs: 4,
  pairsRate: 40,
  pairsDurationMs: 3_000,
  warmupMs: 1_000,
  maxRates: [40, 80],
  maxStepMs: 2_000,
  maxP99Ms: 100,
  fanoutMembers: 12,
  fanoutRate: 5,
  fanoutDurationMs: 3_000,
  fanoutStepRates: [5, 10],
  fanoutStepMs: 2_000,
  idleConnections: 200,
  idleOpenRate: 500,
  stormClients: 40,
  stormMissed: 3,
  connectRate: 500,
};

export interface ScenarioContext {
  bench: Bench;
  parley: RunningParley;
  population: Population;
  sizes: Sizes;
  /** JetStream consumer backlogs (connected mode only). */
  lag: ConsumerLag | null;
  /** Results of the scenarios run before (the fan-out compares with the baseline's). */
  results: Map<string, ScenarioResult>;
  newClientIdx(): number;
  /** Epoch ms after which stepped scenarios stop adding steps (the whole run must stay bounded). */
  deadline: number;
}

export interface Target {
  name: string;
  value: string;
  met: boolean | null;
  /** What limits it, when not met (from the measurements). */
  note?: string;
}

export interface ScenarioResult {
  scenario: string;
  startedAt: string;
  seconds: number;
  targets: Target[];
  [key: string]: unknown;
}

export function clientFor(ctx: ScenarioContext, user: BenchUser, conversations: string[]): ClientSpec {
  return { idx: ctx.newClientIdx(), userId: user.userId, token: ctx.population.tokenOf(user), conversations };
}
