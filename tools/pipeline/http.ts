/** A fetched response whose body is already read, so no socket is left paused when the local API stops. */
export interface ReadResponse {
  readonly status: number;
  readonly headers: Headers;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** fetch that always reads the whole body before returning. */
export async function request(url: string, init?: RequestInit): Promise<ReadResponse> {
  const response = await fetch(url, init);
  const body = await response.text();
  return { status: response.status, headers: response.headers, text: async () => body, json: async () => JSON.parse(body) };
}

/** POSTs sales as JSON to a running API's `/sales` (no idempotency key); the response, read whole. */
export function postSales(apiUrl: string, sales: readonly object[]): Promise<ReadResponse> {
  return request(`${apiUrl}/sales`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sales) });
}
