// The smallest Backstage backend that serves the software catalog: the default core services
// (config, database, auth, HTTP) and the catalog plugin, nothing else. The benchmark writes its
// app-config and passes it with --config.
const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-catalog-backend'));
backend.start();
