// The `e2e-express` project: its suites' servers run on Express (test/support/test-app.ts), the
// platform most hosts embed ChartWarden on, while `e2e` runs every suite on Fastify, the server's
// (decision 0021). Jest gives each test file its own copy of process.env: this reaches no other file.
process.env.CHARTWARDEN_TEST_PLATFORM = 'express';
