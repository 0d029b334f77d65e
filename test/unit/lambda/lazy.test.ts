import { describe, expect, it } from "vitest";
import { lazy } from "#shared/lambda/lazy";

describe("lazy (one value per container)", () => {
  it("makes the value on first use only, and hands the same one to every later call", () => {
    let made = 0;
    const get = lazy(() => ({ n: ++made }));
    expect(made).toBe(0);
    const first = get();
    expect(get()).toBe(first);
    expect(made).toBe(1);
  });

  it("forgets a creation that threw, so the next call tries again", () => {
    let attempts = 0;
    const get = lazy(() => {
      if (++attempts === 1) throw new Error("first attempt fails");
      return attempts;
    });
    expect(get).toThrow("first attempt fails");
    expect(get()).toBe(2);
    expect(get()).toBe(2);
  });

  it("shares one pending promise between concurrent calls, and forgets it once it rejects", async () => {
    let attempts = 0;
    const get = lazy(async () => {
      attempts++;
      if (attempts === 1) throw new Error("registry down");
      return `version-${attempts}`;
    });
    const [a, b] = [get(), get()];
    expect(a).toBe(b);
    await expect(a).rejects.toThrow("registry down");
    expect(await get()).toBe("version-2");
    expect(await get()).toBe("version-2");
    expect(attempts).toBe(2);
  });
});
