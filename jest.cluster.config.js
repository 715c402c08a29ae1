/**
 * `npm run test:cluster`: the tests under test/cluster against one `npm run cluster` (PostgreSQL, Temporal's services
 * as separate processes, two worker processes, the gateway), started by the global setup and stopped by the teardown.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/cluster'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/cluster/global-setup.ts',
  globalTeardown: '<rootDir>/test/cluster/global-teardown.ts',
  testTimeout: 600000,
  // One file at a time: the fault scenario kills processes every other test would depend on.
  maxWorkers: 1,
};
