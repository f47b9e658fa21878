import { expect, request, type APIRequestContext } from '@playwright/test';
import { APPROVER } from './accounts';
import { ConsolePage } from './console-page';

/**
 * The REST API straight, for tests that set up state quickly (never for the seed flow, which
 * goes through the page only) and for checking that the API refuses what the page refuses.
 */
export class ApiClient {
  private constructor(
    readonly context: APIRequestContext,
    readonly csrf: string,
  ) {}

  static async signIn(name: string, password: string, baseURL = ConsolePage.baseUrl()): Promise<ApiClient> {
    const context = await request.newContext({ baseURL });
    const answer = await context.post('/api/v1/session', {
      data: { username: name, password },
      headers: { 'x-csrf-token': 'sign-in' },
    });
    expect(answer.status(), await answer.text()).toBe(200);
    const body = await answer.json();
    return new ApiClient(context, body.csrf_token);
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
  }

  /** A write; returns the status and the JSON body. */
  async send(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, data?: unknown) {
    const answer = await this.context.fetch(path, {
      method,
      data,
      headers: { 'x-csrf-token': this.csrf },
    });
    const text = await answer.text();
    return { status: answer.status(), body: text ? JSON.parse(text) : null };
  }

  async get(path: string) {
    const answer = await this.context.get(path);
    expect(answer.status(), await answer.text()).toBe(200);
    return answer.json();
  }

  /** Starts a long-running change and waits until it succeeded. */
  async run(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, data?: unknown) {
    const started = await this.send(method, path, data);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.id;
    await expect
      .poll(async () => (await this.get(`/api/v1/operations/${id}`)).status, { timeout: 60_000 })
      .toBe('succeeded');
  }

  async createEndpoint(name: string) {
    await this.run('POST', '/api/v1/endpoints', { name, auth_mode: 'key' });
  }

  async createDeployment(endpoint: string, name: string, model: string) {
    await this.run('POST', `/api/v1/endpoints/${endpoint}/deployments`, {
      name,
      model: `azureml:${model}:1`,
      environment: 'azureml:python-stdlib:1',
      instance_type: 'Standard_DS3_v2',
      instance_count: 1,
    });
  }

  /**
   * Asks for a change that needs approval (a traffic change or a delete answers 202 with a
   * change request), has APPROVER approve it and, unless `wait` is false, waits until the
   * operation that applies it succeeded. Returns the request's id.
   */
  async requestApproved(method: 'PUT' | 'DELETE', path: string, data?: unknown, wait = true): Promise<string> {
    const asked = await this.send(method, path, data);
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    const id: string = asked.body.id;
    expect(asked.body.state).toBe('pending');
    await ApiClient.approve(id);
    if (wait) {
      await expect
        .poll(async () => (await this.get(`/api/v1/change-requests/${id}`)).state, { timeout: 60_000 })
        .toBe('applied');
    }
    return id;
  }

  /** APPROVER approves the request `id` (a second person: never the one who asked). */
  static async approve(id: string, comment?: string) {
    const approver = await ApiClient.signIn(APPROVER.name, APPROVER.password);
    try {
      const approved = await approver.send('POST', `/api/v1/change-requests/${id}/approve`, comment ? { comment } : {});
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    } finally {
      await approver.dispose();
    }
  }

  /** Asks for the split, has it approved, and waits until it is live. */
  async setTraffic(endpoint: string, traffic: Record<string, number>, mirror: Record<string, number> = {}) {
    const state = await this.get(`/api/v1/endpoints/${endpoint}/traffic`);
    await this.requestApproved('PUT', `/api/v1/endpoints/${endpoint}/traffic`, {
      traffic,
      mirror_traffic: mirror,
      version: state.version,
      reason: 'e2e set-up',
    });
  }

  /**
   * A new endpoint whose blue deployment (v1) takes all live traffic, and a rollout to a green
   * deployment of `model` started on it with the seed plan. Returns the endpoint and rollout.
   */
  async startRollout(prefix: string, reason: string, model = 'regression-v2'): Promise<{ name: string; id: string }> {
    const name = uniqueName(prefix);
    await this.createEndpoint(name);
    await this.createDeployment(name, 'blue', 'regression-v1');
    await this.setTraffic(name, { blue: 100 });
    const started = await this.send('POST', `/api/v1/endpoints/${name}/rollouts`, {
      deployment: {
        name: 'green',
        model: `azureml:${model}:1`,
        environment: 'azureml:python-stdlib:1',
        instance_type: 'Standard_DS3_v2',
        instance_count: 1,
      },
      reason,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    return { name, id: started.body.id };
  }

  async deleteDeployment(endpoint: string, deployment: string) {
    await this.requestApproved('DELETE', `/api/v1/endpoints/${endpoint}/deployments/${deployment}?reason=e2e+clean-up`);
  }

  /** Clean-up: asks for the deletion and has it approved, without waiting; gone already is fine. */
  async deleteEndpoint(name: string) {
    const asked = await this.send('DELETE', `/api/v1/endpoints/${name}?reason=e2e+clean-up`);
    if (asked.status === 202) await ApiClient.approve(asked.body.id);
  }
}

/** A name no other test (or earlier run) uses: specs share one server. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}
