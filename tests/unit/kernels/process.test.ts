/**
 * freePort of kernels/src/process.ts against a real socket: the preferred port when it is free,
 * another free one while a server listens on it.
 */
import { describe, expect, it } from "vitest";
import { freePort } from "../../../kernels/src/process";

describe("freePort", () => {
  it("gives the preferred port when it is free and another one when it is taken", async () => {
    const port = await freePort();
    expect(port).not.toBeNull();
    expect(await freePort(port as number)).toBe(port);
    const net = await import("node:net");
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(port as number, "127.0.0.1", resolve));
    try {
      const other = await freePort(port as number);
      expect(other).not.toBeNull();
      expect(other).not.toBe(port);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
