// The layers of src/, lowest first. A file may import its own layer and the layers below it, never one above.
// Check: `npm run lint:deps` (also run by `npm run lint` and by test/unit/layers.test.ts).
const LAYERS = [
  ['foundation', '^src/(util/|errors\\.ts|logger\\.ts|types\\.ts|events\\.ts)'],
  ['config', '^src/config/'],
  ['transport', '^src/(mqtt|redis|control|dev)/'],
  ['routing', '^src/router/'],
  ['description', '^src/asyncapi/'],
  ['delivery', '^src/(message|rate-limit|dlq)/'],
  ['consumer', '^src/consumer/'],
  ['workers', '^src/worker/'],
  ['app', '^src/(runtime|sessions)/'],
  ['policy and observation', '^src/(doctor|scaling|health)/'],
  ['service', '^src/service/'],
  // routemq/testing's harness: routes run in-process with recorders; only the entry point src/testing.ts uses it.
  ['testing', '^src/testing/'],
  ['cli', '^src/cli/'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `no-upward-from-${name.replace(/ /g, '-')}`,
  comment: `${name} (${path}) must not import a higher layer`,
  severity: 'error',
  from: { path },
  to: {
    path: LAYERS.slice(i + 1)
      .map(([, p]) => `(${p})`)
      .join('|'),
  },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'no import cycle, not even a type-only one',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'library-never-imports-cli',
      comment: 'the public entry points (index.ts, internal.ts, testing.ts) must not import the CLI',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: require('node:path').join(__dirname, 'tsconfig.json') },
    exclude: { path: '^(test|bench|node_modules)/' },
  },
};
