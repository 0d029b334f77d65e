/** An HTTP answer of the fake: status and JSON body. */
export type FakeAnswer = { status: number; body: unknown };

/**
 * A `fetch` that answers JSON by the request's URL (resolved against `base`) and records each
 * request as its decoded `path?query`, in order, in `calls`.
 */
export function fakeFetch(answer: (url: URL) => FakeAnswer, base = "http://fake.test") {
  const calls: string[] = [];
  const fetchImpl = async (url: string) => {
    const parsed = new URL(url, base);
    calls.push(`${decodeURIComponent(parsed.pathname)}?${decodeURIComponent(parsed.searchParams.toString())}`);
    const { status, body } = answer(parsed);
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
  return { fetchImpl, calls };
}
