'use strict';
// Cloud code of the osc-player test hub.
//
// Built-in fixture answers for the cloud functions the stele client calls (`mobility`, `pt-stop-nearby`,
// `pt-serving-lines`, `poi-all`). A test can replace the answer of any of them by writing a row of class `TestFixture`
// (tests/hubserver.py: TestHub.set_cloud_result):
//   function   string   name of the cloud function
//   resultJson string   JSON text of the result to return instead of the built-in one
//   errorCode  number   if set: fail with this Parse error code ...
//   errorMessage string ... and this message (resultJson is then ignored)
//   delayMs    number   wait this long before answering (slow hub)
// Every call is recorded as a row of class `TestCloudCall` {function, params} so tests can check what the
// player asked for. Both classes are dropped by the `clean_hub` fixture between tests.

const MINUTE = 60 * 1000;

function isoAt(ms) {
  // EFA rapidJSON style: whole seconds, UTC, trailing Z
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function requireCoordinates(params) {
  const lat = Number(params.lat);
  const lon = Number(params.lon);
  if (params.lat === undefined || params.lon === undefined || !Number.isFinite(lat) || !Number.isFinite(lon)) {
    throw new Parse.Error(Parse.Error.SCRIPT_FAILED, 'lat and lon are required numbers');
  }
  return { lat, lon };
}

// Departures relative to "now": on time, delayed, without real-time data, cancelled, ...
// [line, destination, minutes from now (planned), delay in minutes (null = no real-time), cancelled]
const DEPARTURES = [
  ['1', 'Hauptbahnhof', 2, 0, false],
  ['5', 'Universität/Süd', 5, 3, false],
  ['S1', 'Frankfurt (Main) Hbf', 9, null, false],
  ['3', 'Gewerbegebiet Nord', 12, 0, true],
  ['1', 'Klinikum Lindenhof', 15, 1, false],
  ['N2', 'Am Südbahnhof', 21, 0, false],
  ['5', 'Marktplatz', 34, 0, false],
  ['7', 'Waldfriedhof', 47, null, false],
];

function mobilityFixture(params) {
  if (params.type !== 'public-transport') {
    throw new Parse.Error(Parse.Error.SCRIPT_FAILED, `unknown mobility type: ${params.type}`);
  }
  requireCoordinates(params);
  const now = Date.now();
  const availableOptions = DEPARTURES.map(([line, destination, inMinutes, delay, cancelled]) => {
    const planned = now + inMinutes * MINUTE;
    const option = {
      shortName: line,
      name: destination,
      departureTimePlanned: isoAt(planned),
      realtimeStatus: delay === null ? [] : ['MONITORED'],
    };
    if (delay !== null) {
      option.departureTimeEstimated = isoAt(planned + delay * MINUTE);
    }
    if (cancelled) {
      option.realtimeStatus.push('TRIP_CANCELLED');
      option.isCancelled = true;
    }
    return option;
  });
  return [{ availableOptions }];
}

function stopNearbyFixture(params) {
  requireCoordinates(params);
  return {
    stops: [
      { id: 'de:1234', name: 'Rathaus', properties: { stopId: 'de:1234' } },
      { id: 'de:1235', name: 'Marktplatz', properties: { stopId: 'de:1235' } },
    ],
  };
}

function servingLinesFixture(params) {
  if (!params.stopId) {
    throw new Parse.Error(Parse.Error.SCRIPT_FAILED, 'stopId is required');
  }
  return {
    lines: [
      { id: 'line-1-h', disassembledName: '1', name: 'Bus 1', destination: { name: 'Hauptbahnhof' } },
      { id: 'line-5-u', disassembledName: '5', name: 'Bus 5', destination: { name: 'Universität/Süd' } },
      { id: 'line-s1', disassembledName: 'S1', name: 'S-Bahn S1', destination: { name: 'Frankfurt (Main) Hbf' } },
    ],
  };
}

async function recordCall(name, params) {
  const call = new Parse.Object('TestCloudCall');
  call.set('function', name);
  call.set('params', params || {});
  await call.save(null, { useMasterKey: true });
}

async function override(name) {
  const query = new Parse.Query('TestFixture');
  query.equalTo('function', name);
  query.descending('updatedAt');
  try {
    return await query.first({ useMasterKey: true });
  } catch (error) {
    // class does not exist yet: no override
    return undefined;
  }
}

function defineWithFixture(name, builtIn) {
  Parse.Cloud.define(name, async request => {
    const params = request.params || {};
    await recordCall(name, params);
    const fixture = await override(name);
    if (!fixture) {
      return builtIn(params);
    }
    const delayMs = Number(fixture.get('delayMs') || 0);
    if (delayMs > 0) {
      await new Promise(resolve => setTimeout(resolve, delayMs));
    }
    if (fixture.get('errorCode') !== undefined && fixture.get('errorCode') !== null) {
      throw new Parse.Error(Number(fixture.get('errorCode')), fixture.get('errorMessage') || 'fixture error');
    }
    const resultJson = fixture.get('resultJson');
    return resultJson === undefined || resultJson === null ? builtIn(params) : JSON.parse(resultJson);
  });
}

// Points of interest around Frankfurt's Römerberg (the tests' screen stands at 50.1109, 8.6821), in the shape of
// the app's POI objects: name, address, poiCategory (objectId), geopoint. One is far away, one has no position.
function poiAllFixture() {
  const poi = (objectId, name, address, category, lat, lon) => ({
    objectId, name, address, poiCategory: category,
    geopoint: lat === null ? undefined : { __type: 'GeoPoint', latitude: lat, longitude: lon },
  });
  return [
    poi('p1', 'Römer (Rathaus)', 'Römerberg 23', 'cat-admin', 50.1106, 8.6820),
    poi('p2', 'Stadtbibliothek', 'Hasengasse 4', 'cat-edu', 50.1134, 8.6853),
    poi('p3', 'Zoo Frankfurt', 'Bernhard-Grzimek-Allee 1', 'cat-leisure', 50.1163, 8.6993),
    poi('p4', 'Flughafen', 'Frankfurt Airport', 'cat-travel', 50.0379, 8.5622),
    poi('p5', 'Ohne Position', 'Irgendwo 1', 'cat-admin', null, null),
  ];
}

defineWithFixture('mobility', mobilityFixture);
defineWithFixture('poi-all', poiAllFixture);
defineWithFixture('pt-stop-nearby', stopNearbyFixture);
defineWithFixture('pt-serving-lines', servingLinesFixture);
