import type { FastifyReply } from 'fastify';

/** RFC 9457 problem details, the body of every REST error (spec/interfaces.md "REST"). */
export interface Problem {
  readonly type: 'about:blank';
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

export function sendProblem(reply: FastifyReply, status: number, title: string, detail: string): FastifyReply {
  const problem: Problem = { type: 'about:blank', title, status, detail };
  return reply.code(status).type('application/problem+json').send(JSON.stringify(problem));
}
