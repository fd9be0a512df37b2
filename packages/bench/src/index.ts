export { type BenchOptions, type BenchRun, runBench, SCENARIOS, type ScenarioName } from './run';
export { FULL, QUICK, type ScenarioResult, type Sizes } from './scenarios/context';
