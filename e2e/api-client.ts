import { expect, request, type APIRequestContext } from '@playwright/test';
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

  static async signIn(name: string, password: string): Promise<ApiClient> {
    const context = await request.newContext({ baseURL: ConsolePage.baseUrl() });
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

  async setTraffic(endpoint: string, traffic: Record<string, number>, mirror: Record<string, number> = {}) {
    const state = await this.get(`/api/v1/endpoints/${endpoint}/traffic`);
    await this.run('PUT', `/api/v1/endpoints/${endpoint}/traffic`, {
      traffic,
      mirror_traffic: mirror,
      version: state.version,
    });
  }

  async deleteEndpoint(name: string) {
    await this.send('DELETE', `/api/v1/endpoints/${name}`);
  }
}

/** A name no other test (or earlier run) uses: specs share one server. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}
