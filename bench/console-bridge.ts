// The panel's console bridge alone, in its own process, so the console bench
// can measure its CPU time the way it measures websockify's:
//
//   node --import tsx bench/console-bridge.ts UNIX_SOCKET
//
// Listens on 127.0.0.1 (a free port, printed as `listening PORT` on stdout)
// and pipes every WebSocket (the `binary` subprotocol, as noVNC asks) to a
// new connection to UNIX_SOCKET with server/console/pipe.ts, the function
// the panel's /console/vnc route uses. No tickets: this measures the bytes
// path only. WebSocket options as in server/console/bridge.ts.
import { createServer } from 'node:http';
import { connect } from 'node:net';

import { WebSocketServer } from 'ws';

import { pipeWebSocket } from '../server/console/pipe';

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: node --import tsx bench/console-bridge.ts UNIX_SOCKET\n');
  process.exit(2);
}

const wss = new WebSocketServer({
  noServer: true,
  maxPayload: 256 * 1024,
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
});
const server = createServer((_req, res) => res.writeHead(404).end());
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    pipeWebSocket(ws, connect(target));
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
