// Consoles of VMs on remote host agents: the agent serves a WebSocket at
// /agent/console/{vnc,serial}/:vmId that only its panel may open (the same
// key as its tRPC API) and pipes it to the VM's unix socket; the panel's
// RemoteAgent opens it and hands the bridge an ordinary Duplex.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { createWebSocketStream, WebSocketServer } from 'ws';
import { agentContext } from '../agent/api';
import { AgentError, type ConsoleKind, type HostAgent } from '../agent/types';
import { CONSOLE_KINDS } from './protocol';
import { pipeWebSocket } from './pipe';

const MAX_FRAME_BYTES = 256 * 1024;

/**
 * The agent's upgrade handler. Returns false for other paths. Refusals are
 * plain HTTP: 401 without the panel's key, 409 when the VM is not running
 * here, 404 for unknown paths.
 */
export function agentConsoleRoute(agent: HostAgent, keyHash: string) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  return (req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const m = /^\/agent\/console\/([a-z]+)\/([A-Za-z0-9_-]{1,64})$/.exec(req.url ?? '');
    if (!m) return false;
    socket.on('error', () => socket.destroy());
    if (!agentContext(keyHash, req.headers.authorization).authorized) return refuse(socket, 401, 'This host agent only answers its panel.');
    const kind = m[1] as ConsoleKind;
    if (!(CONSOLE_KINDS as readonly string[]).includes(kind)) return refuse(socket, 404, 'No such console.');
    agent.openConsole(m[2]!, kind).then(
      (stream) => {
        stream.on('error', () => {}); // until the pipe takes over
        if (socket.destroyed) return void stream.destroy();
        let upgraded = false;
        socket.once('close', () => upgraded || stream.destroy());
        wss.handleUpgrade(req, socket, head, (ws) => {
          upgraded = true;
          pipeWebSocket(ws, stream);
        });
      },
      (e) => refuse(socket, 409, (e as Error).message),
    );
    return true;
  };
}

function refuse(socket: Duplex, status: number, message: string): true {
  socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
  return true;
}

/** The panel's end: a Duplex over the agent's console WebSocket. */
export function openAgentConsole(agentUrl: string, key: string, vmId: string, kind: ConsoleKind): Promise<Duplex> {
  const url = `${agentUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/agent/console/${kind}/${encodeURIComponent(vmId)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${key}` }, perMessageDeflate: false, maxPayload: 1024 * 1024, handshakeTimeout: 5000 });
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve(createWebSocketStream(ws));
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d.slice(0, 500)));
      res.on('end', () => {
        req.destroy();
        reject(new AgentError(res.statusCode === 409 ? body : `host agent refused the console (HTTP ${res.statusCode}): ${body}`));
      });
    });
    ws.once('error', (e) => reject(new AgentError(`host agent at ${agentUrl} is unreachable: ${e.message}`)));
  });
}
