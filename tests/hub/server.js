'use strict';
// Test hub for the osc-player integration tests: Express + Parse Server (PostgreSQL/PostGIS) + LiveQuery,
// listening on 127.0.0.1 only. Started and stopped by tests/hubserver.py; not meant for production use.
//
// Environment (all optional except HUB_DATABASE_URI in practice):
//   HUB_PORT           port to listen on (default 1337)
//   HUB_DATABASE_URI   postgres://user:pw@127.0.0.1:5432/db
//   HUB_APP_ID, HUB_MASTER_KEY, HUB_REST_KEY, HUB_JS_KEY   Parse keys
//   HUB_FILES_DIR      working directory; uploaded files go to $HUB_FILES_DIR/files/ (default tests/hub/data)
//   HUB_LOG_LEVEL      Parse Server log level (default "warn")
//   HUB_PUBLIC_FILE_UPLOAD=1   allow file upload without user/master key (Parse default: not allowed)

const fs = require('fs');
const path = require('path');
const http = require('http');
// No log files: parse-server's module-level default logger would otherwise create ./logs at require time.
// Everything goes to stdout/stderr (tests/hubserver.py writes that to parse.log in its temp dir).
process.env.PARSE_SERVER_LOGS_FOLDER = 'null';
const express = require('express');
const { ParseServer } = require('parse-server');
const FSFilesAdapter = require('@parse/fs-files-adapter');

const HOST = '127.0.0.1';
const port = Number(process.env.HUB_PORT || 1337);
const mountPath = '/parse';
const serverURL = `http://${HOST}:${port}${mountPath}`;

const LIVE_QUERY_CLASSES = [
  'SteleScreen',
  'SteleLayoutConfig',
  'SteleDiashowObject',
  'SteleDiashowConfig',
  'SteleSchedule',
  'SteleScreenCommand',
];

const config = {
  appId: process.env.HUB_APP_ID || 'osc-test-hub',
  masterKey: process.env.HUB_MASTER_KEY || 'osc-test-master-key',
  restAPIKey: process.env.HUB_REST_KEY || 'osc-test-rest-key',
  javascriptKey: process.env.HUB_JS_KEY || 'osc-test-js-key',
  databaseURI: process.env.HUB_DATABASE_URI || 'postgres://hub:hub@127.0.0.1:5432/osc_hub',
  serverURL,
  publicServerURL: serverURL,
  cloud: path.join(__dirname, 'cloud', 'main.js'),
  allowClientClassCreation: true,
  masterKeyIps: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
  fileUpload: {
    enableForPublic: process.env.HUB_PUBLIC_FILE_UPLOAD === '1',
    enableForAnonymousUser: process.env.HUB_PUBLIC_FILE_UPLOAD === '1',
    enableForAuthenticatedUser: true,
  },
  liveQuery: { classNames: LIVE_QUERY_CLASSES },
  logLevel: process.env.HUB_LOG_LEVEL || 'warn',
  logsFolder: null,
  verbose: false,
};

// The fs files adapter stores into "./files" relative to the working directory: run inside HUB_FILES_DIR, so
// uploads end up in $HUB_FILES_DIR/files/ whatever directory the caller started us from.
const filesRoot = path.resolve(process.env.HUB_FILES_DIR || path.join(__dirname, 'data'));
fs.mkdirSync(filesRoot, { recursive: true });
process.chdir(filesRoot);
config.filesAdapter = new FSFilesAdapter();

async function main() {
  const parseServer = new ParseServer(config);
  await parseServer.start();

  const app = express();
  app.use(mountPath, parseServer.app);
  const httpServer = http.createServer(app);
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, HOST, resolve);
  });
  await ParseServer.createLiveQueryServer(httpServer, {}, config);

  // One clear line that the Python side (and a human) can wait for.
  console.log(`OSC TEST HUB READY ${serverURL}`);

  const shutdown = signal => {
    console.log(`OSC TEST HUB stopping (${signal})`);
    httpServer.closeAllConnections?.();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch(error => {
  console.error('OSC TEST HUB FAILED TO START:', error);
  process.exit(1);
});
