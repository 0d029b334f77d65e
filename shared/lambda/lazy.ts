/**
 * A value made on first use and reused while the container is warm: `get()` calls `create` once
 * and returns what it returned ever after (a pending promise is shared by concurrent callers).
 * A `create` that throws, or whose promise rejects, is forgotten, so the next `get()` tries
 * again (a registry down at cold start must not stay down for the container's life). Never throws by itself; a failed `create`'s error reaches the caller.
 */
export function lazy<T>(create: () => T): () => T {
  let made: { readonly value: T } | undefined;
  return () => {
    if (made !== undefined) return made.value;
    const value = create();
    const kept = { value };
    made = kept;
    if (value instanceof Promise) {
      // Only this attempt is forgotten: a later one that succeeded stays.
      value.catch(() => {
        if (made === kept) made = undefined;
      });
    }
    return value;
  };
}
