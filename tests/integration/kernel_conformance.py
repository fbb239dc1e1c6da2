#!/usr/bin/python3
"""Protocol conformance of the mamba-ts kernel.

Runs jupyter_kernel_test's KernelTests (the Jupyter project's kernel test suite) against the
kernelspec in kernels/mamba-ts, with every sample that applies to a TypeScript kernel filled in,
plus checks of what the course relies on beyond that suite: error messages, stop_on_error,
silent requests, interrupts, comms, and lib's displays and exercise checks arriving intact.

Usage (from anywhere; Debian's python3 with python3-jupyter-kernel-test):
    /usr/bin/python3 tests/integration/kernel_conformance.py [--json SUMMARY.json]
The kernel runs in the repository root, so `@mamba-ts/lib` must be built (`npm run build`).
"""

import json
import os
import sys
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Our kernelspec comes first, whatever else is installed.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [REPO] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
)
os.chdir(REPO)

import jupyter_kernel_test as jkt  # noqa: E402

TIMEOUT = 30
# The MIME type of lib's exercise check outcomes (CHECK_MIME in lib/src/exercises/check.ts).
CHECK_MIME = "application/vnd.mamba-ts.check+json"


class MambaTsKernelTests(jkt.KernelTests):
    kernel_name = "mamba-ts"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("to stderr")'
    code_generate_error = 'throw new Error("boom")'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"mamba" + "-ts"', "result": "mamba-ts"},
        {"code": "[1, 2].map((v) => v * 10)", "result": "[ 10, 20 ]"},
    ]
    code_display_data = [
        {"code": 'import * as tslab from "tslab";\ntslab.display.html("<b>hi</b>")', "mime": "text/html"},
        {"code": 'import * as tslab from "tslab";\ntslab.display.markdown("*hi*")', "mime": "text/markdown"},
    ]
    code_history_pattern = "6 ? 7"
    supported_history_operations = ("tail", "range", "search")
    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "const someLongName = 1; someLo", "matches": {"someLongName"}},
    ]
    complete_code_samples = ["1 + 1", "const a = [1, 2];", "function f() {\n  return 1;\n}"]
    incomplete_code_samples = ["function f() {", "const a = [1, 2,", "x +"]
    invalid_code_samples = [")(", "let = ;"]
    code_inspect_sample = "Math.max"
    # Not applicable: tslab has no pager payloads and no API that sends clear_output.
    code_page_something = ""
    code_clear_output = ""

    # ---- helpers for the checks below ----------------------------------------------------

    def shell_reply(self, msg_id, timeout=TIMEOUT):
        while True:
            msg = self.kc.get_shell_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def iopub_until_idle(self, msg_id, timeout=TIMEOUT):
        """The iopub messages of one request, from its busy status up to its idle status."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            out.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return out

    def run_cells(self, codes, **kwargs):
        """Sends every cell at once (like "Run All"), then collects (reply, outputs) per cell."""
        self.flush_channels()
        ids = [self.kc.execute(code, **kwargs) for code in codes]
        results = []
        for msg_id in ids:
            reply = self.shell_reply(msg_id)
            iopub = self.iopub_until_idle(msg_id)
            outputs = [m for m in iopub if m["msg_type"] not in ("status", "execute_input")]
            results.append((reply["content"], outputs))
        return results

    def run_cell(self, code, **kwargs):
        return self.run_cells([code], **kwargs)[0]

    def text_of(self, outputs, msg_type="stream", name="stdout"):
        parts = []
        for m in outputs:
            if m["msg_type"] == msg_type == "stream" and m["content"]["name"] == name:
                parts.append(m["content"]["text"])
            elif m["msg_type"] == msg_type and msg_type in ("execute_result", "display_data"):
                parts.append(m["content"]["data"].get("text/plain", ""))
        return "".join(parts)

    # ---- errors --------------------------------------------------------------------------

    def test_error_message_fields(self):
        reply, outputs = self.run_cell('throw new RangeError("out of range")')
        self.assertEqual(reply["status"], "error")
        self.assertEqual([m["msg_type"] for m in outputs], ["error"])
        error = outputs[0]["content"]
        self.assertEqual(error["ename"], "RangeError")
        self.assertEqual(error["evalue"], "out of range")
        self.assertEqual(error["traceback"][0], "RangeError: out of range")
        for key in ("ename", "evalue", "traceback"):
            self.assertEqual(reply[key], error[key])
        self.assertIsInstance(reply["execution_count"], int)
        # The kernel's own frames (vm, tslab, the adapter) are not shown.
        self.assertFalse(any("node:vm" in line or "tslab" in line for line in error["traceback"]))

    def test_compile_error(self):
        reply, outputs = self.run_cell('const n: number = "text";')
        self.assertEqual(reply["status"], "error")
        self.assertEqual([m["msg_type"] for m in outputs], ["error"])
        error = outputs[0]["content"]
        self.assertEqual(error["ename"], "CompileError")
        self.assertIn("not assignable to type 'number'", error["evalue"])
        self.assertTrue(error["traceback"][0].startswith("1:7 - "))

    def test_thrown_non_error(self):
        reply, outputs = self.run_cell('throw "plain text"')
        self.assertEqual(reply["status"], "error")
        self.assertEqual(outputs[0]["content"]["evalue"], "'plain text'")

    def test_async_error(self):
        reply, outputs = self.run_cell(
            'await new Promise((_, reject) => setTimeout(() => reject(new TypeError("later")), 10));'
        )
        self.assertEqual(reply["status"], "error")
        self.assertEqual(outputs[0]["content"]["ename"], "TypeError")

    # ---- stop_on_error -------------------------------------------------------------------

    def test_stop_on_error_aborts_only_waiting_requests(self):
        results = self.run_cells(["let k = 1;", 'throw new Error("stop")', "k = 2;", "k"])
        self.assertEqual([r["status"] for r, _ in results], ["ok", "error", "aborted", "aborted"])
        self.assertEqual([o for _, o in results[2:]], [[], []])
        # Aborted cells did not run, and the next request runs normally.
        reply, outputs = self.run_cell("k")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(self.text_of(outputs, "execute_result"), "1")

    def test_stop_on_error_false_runs_everything(self):
        results = self.run_cells(
            ["let j = 1;", 'throw new Error("go on")', "j = 2;", "j"], stop_on_error=False
        )
        self.assertEqual([r["status"] for r, _ in results], ["ok", "error", "ok", "ok"])
        self.assertEqual(self.text_of(results[3][1], "execute_result"), "2")

    def test_request_right_after_an_error_runs(self):
        # nbclient and nbgrader send the next cell as soon as the error reply arrives (with
        # allow_errors); it must run, not come back aborted.
        first, _ = self.run_cell('throw new Error("first")')
        self.assertEqual(first["status"], "error")
        reply, outputs = self.run_cell("40 + 2")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(self.text_of(outputs, "execute_result"), "42")

    # ---- silent, execution count, comms, interrupts --------------------------------------

    def test_silent_request(self):
        before, _ = self.run_cell("1")
        reply, outputs = self.run_cell('console.log("quiet"); 5', silent=True)
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(outputs, [])
        after, _ = self.run_cell("2")
        self.assertEqual(after["execution_count"], before["execution_count"] + 1)

    def test_comm_info_reply(self):
        msg_id = self.kc.comm_info()
        reply = self.shell_reply(msg_id)
        jkt.validate_message(reply, "comm_info_reply", msg_id)
        self.assertEqual(reply["content"]["comms"], {})

    def test_interrupt(self):
        for code in ("await new Promise((r) => setTimeout(r, 60000));", "while (true) {}"):
            with self.subTest(code=code):
                self.flush_channels()
                timer = threading.Timer(1.0, self.km.interrupt_kernel)
                timer.start()
                try:
                    reply, outputs = self.run_cell(code)
                finally:
                    timer.cancel()
                self.assertEqual(reply["status"], "error")
                self.assertEqual(reply["ename"], "Interrupted")
                self.assertEqual([m["msg_type"] for m in outputs], ["error"])
                again, outputs = self.run_cell("3 * 3")
                self.assertEqual(self.text_of(outputs, "execute_result"), "9")

    # ---- what the lessons send through the kernel ----------------------------------------

    def test_lib_plot_bundle(self):
        reply, outputs = self.run_cell(
            'import { show, lineChart } from "@mamba-ts/lib";\n'
            'show(lineChart([{ name: "a", y: [1, 2, 3] }], { title: "t" }));'
        )
        self.assertEqual(reply["status"], "ok", reply)
        displays = [m for m in outputs if m["msg_type"] == "display_data"]
        self.assertEqual(len(displays), 1, outputs)
        data = displays[0]["content"]["data"]
        self.assertEqual(
            set(data), {"application/vnd.plotly.v1+json", "text/html", "text/plain"}
        )
        self.assertEqual(data["application/vnd.plotly.v1+json"]["data"][0]["y"], [1, 2, 3])

    def check_outcomes(self, outputs):
        """The structured outcomes of check(...) in a cell's outputs (display_data bundles)."""
        return [
            (m["content"]["data"][CHECK_MIME], m["content"]["data"].get("text/plain", ""))
            for m in outputs
            if m["msg_type"] == "display_data" and CHECK_MIME in m["content"]["data"]
        ]

    def test_lib_exercise_check_outcomes(self):
        setup, _ = self.run_cell(
            'import { check, notImplemented, exercises } from "@mamba-ts/lib";\n'
            "const ex = exercises[0];"
        )
        self.assertEqual(setup["status"], "ok", setup)
        exercise_id = self.text_of(self.run_cell("ex.id")[1], "execute_result")
        self.assertNotEqual(exercise_id, "")
        with self.subTest(outcome="not implemented"):
            reply, outputs = self.run_cell("check(ex.id, () => { throw notImplemented(ex.id); });")
            self.assertEqual(reply["status"], "ok", reply)
            [(outcome, text)] = self.check_outcomes(outputs)
            self.assertEqual((outcome["id"], outcome["status"]), (exercise_id, "not-implemented"))
            self.assertIn("not implemented yet", text)
            self.assertEqual(outcome["message"], text)
            self.assertEqual(self.text_of(outputs, name="stderr"), "")
        with self.subTest(outcome="wrong"):
            reply, outputs = self.run_cell("check(ex.id, () => null);")
            self.assertEqual(reply["status"], "error")
            self.assertEqual([m["msg_type"] for m in outputs], ["display_data", "error"])
            [(outcome, text)] = self.check_outcomes(outputs)
            self.assertEqual((outcome["id"], outcome["status"]), (exercise_id, "failed"))
            self.assertIn(exercise_id, outputs[1]["content"]["evalue"])
            self.assertTrue(outputs[1]["content"]["evalue"].startswith(text), text)
        with self.subTest(outcome="passed"):
            reply, outputs = self.run_cell("check(ex.id, ex.reference);")
            self.assertEqual(reply["status"], "ok", reply)
            [(outcome, text)] = self.check_outcomes(outputs)
            self.assertEqual((outcome["id"], outcome["status"]), (exercise_id, "passed"))
            self.assertIn("passed", text)


def main():
    summary_path = None
    if "--json" in sys.argv:
        summary_path = sys.argv[sys.argv.index("--json") + 1]
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(MambaTsKernelTests)
    ran = sorted(t.id().rsplit(".", 1)[-1] for t in suite)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)

    def name(test):
        return test.id().split(" ", 1)[0].rsplit(".", 1)[-1]

    failed = sorted({name(t) for t, _ in result.failures + result.errors})
    # Whole tests skipped, and subtests skipped on their own (their ids end with "(params)").
    skipped = sorted({name(t) for t, _ in result.skipped if not t.id().endswith(")")})
    subtests_skipped = sorted({t.id() for t, _ in result.skipped if t.id().endswith(")")})
    summary = {
        "ran": ran,
        "failed": failed,
        "skipped": skipped,
        "subtests_skipped": subtests_skipped,
        "details": [f"{t.id()}\n{tb}" for t, tb in result.failures + result.errors],
    }
    if summary_path:
        with open(summary_path, "w") as f:
            json.dump(summary, f, indent=1)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
