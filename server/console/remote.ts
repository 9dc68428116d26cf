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
import { DEFAULT_PIPE_LIMITS, MAX_FRAME_BYTES, pipeWebSocket } from './pipe';

/**
 * The agent's end waits longer for a lagging reader than the panel's: the
 * panel sees the browser, so it is the one that says "too slow" (4005); the
 * agent only gives up on a panel that stopped reading altogether.
 */
const AGENT_PIPE_LIMITS = { stallMs: 4 * DEFAULT_PIPE_LIMITS.stallMs };
/** What the panel keeps of an agent's refusal (its message, not a page). */
const MAX_REFUSAL_BYTES = 500;

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
          pipeWebSocket(ws, stream, { limits: AGENT_PIPE_LIMITS });
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

export const HOST_UNREACHABLE = 'The VM’s host is unreachable.';

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
      res.on('data', (d: string) => {
        if (body.length < MAX_REFUSAL_BYTES) body = (body + d).slice(0, MAX_REFUSAL_BYTES);
      });
      res.on('end', () => {
        req.destroy();
        if (res.statusCode === 409) return reject(new AgentError(body));
        console.error(`console: host agent at ${agentUrl} refused the ${kind} console of VM ${vmId} (HTTP ${res.statusCode}): ${body}`);
        reject(new AgentError(HOST_UNREACHABLE));
      });
    });
    ws.once('error', (e) => {
      // The agent's address is the panel's business: logged, not shown.
      console.error(`console: host agent at ${agentUrl} is unreachable: ${e.message}`);
      reject(new AgentError(HOST_UNREACHABLE));
    });
  });
}
