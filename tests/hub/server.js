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
//
// Fault switch (for the fault tests; tests/hubserver.py TestHub.fault()): `POST /__faults` with the master key, from
// 127.0.0.1 only, arms a fault for requests under /parse that do NOT carry the master key (the player's requests;
// the test's own administrator calls stay untouched):
//   {"mode": "status", "status": 500} | {"mode": "badjson"} | {"mode": "huge", "bytes": 52428800} | {"mode": "hang"}
//   | {"mode": "redirect", "location": "http://other/{path}"}   plus "path" (RegExp on the path below /parse,
//   default: everything), "method" (optional) and "times" (optional: the fault then disarms itself).
// `GET /__faults` lists the faults with their hit counts; `DELETE /__faults` disarms all and drops held requests.

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

// Every class the player's translation reads (docs/hub.md), incl. the classes the test data uses for the
// state, layout type, tile and tile type pointers, plus the command class of reporting.
const LIVE_QUERY_CLASSES = [
  'SteleScreen',
  'SteleLayoutConfig',
  'SteleDiashowObject',
  'SteleDiashowConfig',
  'SteleGridConfig',
  'SteleTilePosition',
  'SteleTile',
  'SteleTileType',
  'SteleScreenState',
  'SteleLayoutType',
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
  // a hub that caps every query page (Parse Server silently answers at most maxLimit rows)
  ...(process.env.HUB_MAX_LIMIT ? { maxLimit: Number(process.env.HUB_MAX_LIMIT) } : {}),
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

// ------------------------------------------------------------------------------------------- fault switch
const FAULT_MODES = new Set(['status', 'badjson', 'huge', 'hang', 'redirect']);
const faults = [];
const held = new Set(); // sockets of requests that never get an answer ("hang")

function fromLocalhost(req) {
  const address = req.socket.remoteAddress;
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function faultControl(req, res) {
  if (!fromLocalhost(req) || req.get('X-Parse-Master-Key') !== config.masterKey) {
    return res.status(403).json({ error: 'fault switch: master key from 127.0.0.1 only' });
  }
  if (req.method === 'GET') {
    return res.json({ faults });
  }
  if (req.method === 'DELETE') {
    faults.length = 0;
    for (const socket of held) socket.destroy();
    held.clear();
    return res.json({ cleared: true });
  }
  if (req.method !== 'POST') {
    return res.status(405).json({ error: 'GET, POST or DELETE' });
  }
  const spec = req.body || {};
  if (!FAULT_MODES.has(spec.mode)) {
    return res.status(400).json({ error: `mode must be one of ${[...FAULT_MODES].join(', ')}` });
  }
  if (spec.mode === 'redirect' && typeof spec.location !== 'string') {
    return res.status(400).json({ error: 'redirect needs a location' });
  }
  const fault = {
    mode: spec.mode,
    path: typeof spec.path === 'string' ? spec.path : '',
    method: typeof spec.method === 'string' ? spec.method.toUpperCase() : null,
    times: Number.isInteger(spec.times) ? spec.times : null,
    status: Number.isInteger(spec.status) ? spec.status : null,
    bytes: Number.isInteger(spec.bytes) ? spec.bytes : 50 * 1024 * 1024,
    location: spec.location || null,
    hits: 0,
  };
  new RegExp(fault.path); // a bad pattern fails here (400 below), not on the next request
  faults.push(fault);
  return res.json({ armed: fault });
}

function sendHuge(res, total) {
  // a JSON-looking body of `total` bytes, written with back-pressure; stops when the client hangs up
  res.status(200).set('Content-Type', 'application/json');
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  let sent = 0;
  let closed = false;
  res.on('close', () => { closed = true; });
  const pump = () => {
    while (!closed && sent < total) {
      const part = sent === 0 ? Buffer.from('{"results":[') : chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += part.length;
      if (!res.write(part)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!closed) res.end(']}');
  };
  pump();
}

function faultSwitch(req, res, next) {
  if (faults.length === 0 || req.get('X-Parse-Master-Key')) {
    return next();
  }
  const fault = faults.find(f => (f.times === null || f.hits < f.times)
    && (!f.method || f.method === req.method) && new RegExp(f.path).test(req.path));
  if (!fault) {
    return next();
  }
  fault.hits += 1;
  switch (fault.mode) {
    case 'status':
      return res.status(fault.status || 500).json({ code: 1, error: 'Internal server error (injected fault)' });
    case 'badjson':
      return res.status(200).set('Content-Type', 'application/json').send('<html><body>Wartungsarbeiten</body></html>');
    case 'huge':
      return sendHuge(res, fault.bytes);
    case 'redirect':
      return res.redirect(fault.status || 302, fault.location.replace('{path}', req.originalUrl.replace(/^\//, '')));
    case 'hang':
    default:
      held.add(req.socket);
      req.socket.once('close', () => held.delete(req.socket));
      return undefined; // never answered
  }
}

async function main() {
  const parseServer = new ParseServer(config);
  await parseServer.start();

  const app = express();
  app.use('/__faults', express.json(), (req, res) => {
    try {
      faultControl(req, res);
    } catch (error) {
      res.status(400).json({ error: String(error) });
    }
  });
  app.use(mountPath, faultSwitch);
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
