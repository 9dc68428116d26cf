// Pure parts of the VM process: argument parsing, the run-config schema,
// the serial output ring and input backpressure.
import { describe, expect, it } from "vitest";

import { parseArgs } from "./cli";
import { EXIT_CODES, parseRunConfig } from "./config";
import { OutputRing, SerialInput } from "./serial";

describe("npm run vm arguments", () => {
  it("parses every option", () => {
    const c = parseRunConfig(
      parseArgs([
        "--kernel", "/k", "--initrd=/i", "--cmdline", "console=ttyS0", "--disk", "/a.img", "--disk", "/b.img,ro",
        "--vcpus", "2", "--memory", "128", "--serial", "unix:/tmp/s", "--vnc", "unix:/tmp/v",
        "--net", "tap:tap0,mac=52:54:00:00:00:01", "--framebuffer", "800x600", "--name", "web1",
      ]),
    );
    expect(c).toMatchObject({
      kernel: "/k", initrd: "/i", cmdline: "console=ttyS0", vcpus: 2, memoryMiB: 128, serial: "unix:/tmp/s",
      vnc: "unix:/tmp/v", net: { tap: "tap0", mac: "52:54:00:00:00:01" }, framebuffer: { width: 800, height: 600 },
      name: "web1",
    });
    expect(c.disks).toEqual([{ path: "/a.img", readonly: false }, { path: "/b.img", readonly: true }]);
  });

  it("has defaults", () => {
    const c = parseRunConfig(parseArgs(["--kernel", "/k"]));
    expect(c).toMatchObject({ memoryMiB: 256, vcpus: 1, serial: "stdio", cmdline: "", framebuffer: { width: 1024, height: 768 } });
    expect(parseRunConfig(parseArgs(["--kernel", "/k", "--fb", "none"])).framebuffer).toBeNull();
  });

  it("rejects bad arguments with one-line messages", () => {
    const bad: [string[], RegExp][] = [
      [[], /--kernel FILE is required/],
      [["--kernel"], /needs a value/],
      [["--kernel", "/k", "--vcpus", "two"], /whole number/],
      [["--kernel", "/k", "--disk", "/a,rx"], /unknown option/],
      [["--kernel", "/k", "--serial", "tcp:1"], /stdio/],
      [["--kernel", "/k", "--net", "user"], /tap:NAME/],
      [["--kernel", "/k", "--frob"], /unknown argument/],
    ];
    for (const [args, re] of bad) expect(() => parseArgs(args)).toThrow(re);
    expect(() => parseRunConfig(parseArgs(["--kernel", "/k", "--memory", "8"]))).toThrow(/^config: memoryMiB: memory: at least 16 MiB$/);
    expect(() => parseRunConfig(parseArgs(["--kernel", "/k", "--vcpus", "0"]))).toThrow(/vcpus/);
    expect(() => parseRunConfig(parseArgs(["--kernel", "/k", "--fb", "4000x100"]))).toThrow(/framebuffer/);
    expect(() => parseRunConfig(parseArgs(["--kernel", "/k", "--net", "tap:t,mac=zz"]))).toThrow(/MAC/);
  });

  it("exit codes are distinct per reason", () => {
    const codes = Object.values(EXIT_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    expect(EXIT_CODES.poweroff).toBe(0);
    expect(EXIT_CODES.usage).toBe(2);
  });
});

describe("serial plumbing", () => {
  it("the ring keeps the most recent bytes", () => {
    const r = new OutputRing(8);
    r.push(Buffer.from("abc"));
    expect(r.contents().toString()).toBe("abc");
    r.push(Buffer.from("defgh"));
    expect(r.contents().toString()).toBe("abcdefgh");
    r.push(Buffer.from("ij"));
    expect(r.contents().toString()).toBe("cdefghij");
    r.push(Buffer.from("0123456789"));
    expect(r.contents().toString()).toBe("23456789");
    r.push(Buffer.from("x"));
    expect(r.contents().toString()).toBe("3456789x");
  });

  it("input waits for UART space, in order", () => {
    let space = 4;
    const got: string[] = [];
    const states: boolean[] = [];
    const input = new SerialInput(
      (b) => {
        const n = Math.min(space, b.length);
        got.push(Buffer.from(b.subarray(0, n)).toString());
        space -= n;
        return n;
      },
      (blocked) => states.push(blocked),
    );
    input.push(Buffer.from("hello"));
    input.push(Buffer.from("world"));
    expect(got.join("")).toBe("hell");
    expect(states.at(-1)).toBe(true);
    space = 100;
    input.flush();
    expect(got.join("")).toBe("helloworld");
    expect(states.at(-1)).toBe(false);
  });
});
