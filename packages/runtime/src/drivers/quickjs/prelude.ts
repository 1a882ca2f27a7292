/**
 * The JavaScript evaluated once in every QuickJS sandbox before any user code. It is a function
 * expression; the driver calls it with two host functions (`hostWrite(fd, text)` and
 * `hostCall(kind, json)`) and three bounds (pending timers, characters of one capability call,
 * characters of one console line), so the host functions are reachable only through
 * the closures below, never as globals. It installs the sandbox API as non-enumerable globals
 * (`console`, `fetch`, `tools`, `setTimeout`, `clearTimeout`, `queueMicrotask`) and returns the
 * driver's internal helpers (`toJson`, `describe`, `fireTimer`, `clearTimers`, `checkpoint`),
 * whose handles the driver keeps: code that later replaces `JSON` or `console` changes only its
 * own view, never what the driver calls.
 *
 * Every value crosses the boundary as a JSON string, so no object (and no prototype) is ever
 * shared between the sandbox and the host.
 */
export const PRELUDE_SOURCE = String.raw`(function (hostWrite, hostCall, maxTimers, maxCallChars, maxLineChars) {
  'use strict';
  var g = globalThis;
  var stringify = JSON.stringify;
  var parse = JSON.parse;
  var toStr = String;
  var ErrorCtor = Error;
  var TypeErrorCtor = TypeError;
  var define = Object.defineProperty;
  var freeze = Object.freeze;
  var entriesOf = Object.entries;
  var hasOwn = Object.prototype.hasOwnProperty;
  var isArray = Array.isArray;
  var arrayFrom = Array.from;
  var slice = Array.prototype.slice;
  var PromiseCtor = Promise;
  var resolved = function (value) { return PromiseCtor.resolve(value); };
  var rejected = function (error) { return PromiseCtor.reject(error); };

  function errorText(e) {
    var head = toStr(e.name === undefined ? 'Error' : e.name) + ': ' + toStr(e.message === undefined ? '' : e.message);
    var stack = e.stack;
    return typeof stack === 'string' && stack.length > 0 ? head + '\n' + stack.replace(/\n+$/, '') : head;
  }

  function format(v) {
    if (typeof v === 'string') return v;
    if (v instanceof ErrorCtor) return errorText(v);
    if (v === undefined) return 'undefined';
    if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']';
    if (typeof v === 'bigint') return toStr(v) + 'n';
    if (typeof v === 'symbol') return v.toString();
    try { var s = stringify(v); if (s !== undefined) return s; } catch (e) {}
    try { return toStr(v); } catch (e) { return '[unprintable]'; }
  }

  function write(fd, args) {
    var line = '';
    for (var i = 0; i < args.length; i++) line += (i === 0 ? '' : ' ') + format(args[i]);
    // Longer than the output bound can ever keep: cut here rather than copy it to the host.
    if (line.length > maxLineChars) line = line.slice(0, maxLineChars);
    hostWrite(fd, line + '\n');
  }

  var console = freeze({
    log: function () { write(1, arguments); },
    info: function () { write(1, arguments); },
    debug: function () { write(1, arguments); },
    warn: function () { write(2, arguments); },
    error: function () { write(2, arguments); }
  });

  function codedError(envelope) {
    var e = new ErrorCtor(toStr(envelope.message));
    e.name = 'EnablementError';
    e.code = toStr(envelope.code);
    e.retryable = envelope.retryable === true;
    if (typeof envelope.retryAfterMs === 'number') e.retryAfterMs = envelope.retryAfterMs;
    return e;
  }

  function call(kind, payload) {
    var json = stringify(payload);
    if (json.length > maxCallChars) {
      return rejected(codedError({ code: 'RT-413', message: kind + ': the call is more than ' + maxCallChars + ' bytes' }));
    }
    return resolved(hostCall(kind, json)).then(function (text) {
      var envelope = parse(text);
      if (envelope.ok === true) return envelope.value;
      throw codedError(envelope);
    });
  }

  function headerRecord(h) {
    var out = Object.create(null);
    if (h === undefined || h === null) return out;
    var list;
    if (isArray(h)) list = h;
    else if (typeof h.entries === 'function' && typeof h.get === 'function') list = arrayFrom(h.entries());
    else list = entriesOf(h);
    for (var i = 0; i < list.length; i++) out[toStr(list[i][0]).toLowerCase()] = toStr(list[i][1]);
    return out;
  }

  function makeHeaders(map) {
    function get(name) {
      var key = toStr(name).toLowerCase();
      return hasOwn.call(map, key) ? map[key] : null;
    }
    return freeze({
      get: get,
      has: function (name) { return get(name) !== null; },
      entries: function () { return entriesOf(map); },
      keys: function () { return entriesOf(map).map(function (e) { return e[0]; }); },
      forEach: function (fn) { entriesOf(map).forEach(function (e) { fn(e[1], e[0]); }); },
      toJSON: function () { return map; }
    });
  }

  function makeResponse(r) {
    var body = toStr(r.body);
    return freeze({
      ok: r.status >= 200 && r.status < 300,
      status: r.status,
      statusText: r.statusText,
      url: r.url,
      headers: makeHeaders(r.headers),
      text: function () { return resolved(body); },
      json: function () { return resolved(body).then(parse); }
    });
  }

  function fetch(input, init) {
    try {
      var url = typeof input === 'string' ? input
        : input !== null && typeof input === 'object' && typeof input.url === 'string' ? input.url : toStr(input);
      var options = init === undefined || init === null ? {} : init;
      var method = options.method === undefined ? 'GET' : toStr(options.method).toUpperCase();
      var body = options.body;
      if (body !== undefined && body !== null && typeof body !== 'string') {
        throw new TypeErrorCtor('fetch: body must be a string (JSON.stringify objects first)');
      }
      var request = { url: url, method: method, headers: headerRecord(options.headers) };
      if (typeof body === 'string') request.body = body;
      return call('fetch', request).then(makeResponse);
    } catch (e) {
      return rejected(e);
    }
  }

  var tools = freeze({
    call: function (name, args) {
      try {
        return call('tool', { name: toStr(name), args: args === undefined ? null : args });
      } catch (e) {
        return rejected(e);
      }
    }
  });

  // Virtual timers: callbacks run in due order when the sandbox has nothing else to do (no ready
  // job, no pending host call). No wall time passes; the exec deadline bounds everything.
  var timers = [];
  var virtualNow = 0;
  var nextTimerId = 1;

  function setTimeout(fn, delay) {
    if (typeof fn !== 'function') throw new TypeErrorCtor('setTimeout: the callback must be a function');
    if (timers.length >= maxTimers) throw new ErrorCtor('setTimeout: more than ' + maxTimers + ' pending timers');
    var ms = Number(delay);
    if (!(ms > 0)) ms = 0;
    var timer = { id: nextTimerId++, due: virtualNow + ms, fn: fn, args: slice.call(arguments, 2) };
    var i = timers.length;
    while (i > 0 && timers[i - 1].due > timer.due) i--;
    timers.splice(i, 0, timer);
    return timer.id;
  }

  function clearTimeout(id) {
    for (var i = 0; i < timers.length; i++) {
      if (timers[i].id === id) { timers.splice(i, 1); return; }
    }
  }

  function queueMicrotask(fn) {
    if (typeof fn !== 'function') throw new TypeErrorCtor('queueMicrotask: the callback must be a function');
    resolved(undefined).then(function () { fn(); }).then(undefined, function (e) {
      hostWrite(2, 'Uncaught ' + format(e) + '\n');
    });
  }

  function install(name, value) {
    define(g, name, { value: value, writable: true, configurable: true, enumerable: false });
  }
  install('console', console);
  install('fetch', fetch);
  install('tools', tools);
  install('setTimeout', setTimeout);
  install('clearTimeout', clearTimeout);
  install('queueMicrotask', queueMicrotask);

  return {
    toJson: function (value) {
      if (value === undefined) return undefined;
      try { return stringify(value); } catch (e) { return undefined; }
    },
    describe: function (e) {
      var text;
      var code;
      try {
        text = e !== null && typeof e === 'object' && 'message' in e ? errorText(e) : 'Uncaught ' + format(e);
      } catch (x) {
        text = 'Uncaught exception';
      }
      try {
        if (e !== null && typeof e === 'object' && typeof e.code === 'string') code = e.code;
      } catch (x) {}
      return stringify({ text: toStr(text).slice(0, 16384), code: code });
    },
    fireTimer: function () {
      var timer = timers.shift();
      if (timer === undefined) return false;
      if (timer.due > virtualNow) virtualNow = timer.due;
      try { timer.fn.apply(undefined, timer.args); } catch (e) { hostWrite(2, 'Uncaught ' + format(e) + '\n'); }
      return true;
    },
    clearTimers: function () { timers = []; },
    checkpoint: function () {
      var state = g.state;
      if (state === undefined) return '{}';
      var json = stringify(state);
      return json === undefined ? '{}' : json;
    }
  };
})`;
