/** One Temporal dev server per test run: started by the global setup, shared by every test file. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Those run against `npm run cluster`, through their own config (jest.cluster.config.js, `npm run test:cluster`).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 120000,
  // Two cores: one jest worker beside the Temporal server and the test's own Temporal worker.
  maxWorkers: 2,
};
