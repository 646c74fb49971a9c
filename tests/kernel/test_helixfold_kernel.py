"""Jupyter conformance of the HelixFold kernel, checked by jupyter_kernel_test (the Jupyter
project's kernel test suite) through jupyter_client, plus interrupt and error details.

tests/kernel_conformance.rs installs the kernelspec into a temporary prefix, points
JUPYTER_PATH there, names it in HELIXFOLD_KERNEL_NAME and runs this file with pytest."""
import os
import time
import unittest

import jupyter_kernel_test

KERNEL_NAME = os.environ.get("HELIXFOLD_KERNEL_NAME", "helixfold")


class HelixFoldKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "helixfold"
    file_extension = ".hf"

    code_hello_world = 'echo "hello, world"'
    code_stderr = "echo oops stream=stderr"
    # `device` reports the session's device, a fresh session's being the CPU.
    code_execute_result = [
        {"code": "device", "result": "device: cpu"},
        {"code": "threads 1", "result": "threads: 1"},
    ]
    # `help` lists the commands as a table.
    code_display_data = [{"code": "help", "mime": "text/html"}]
    code_generate_error = "nosuch"
    code_history_pattern = "dev*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "echo"

    completion_samples = [
        {"text": "he", "matches": {"help"}},
        {"text": "echo hi stream=std", "matches": {"stdout", "stderr"}},
        {"text": "device\nres", "matches": {"reset"}},
    ]
    complete_code_samples = ["echo hi", "device; echo a", "# only a comment", "echo a \\\n  b"]
    incomplete_code_samples = ['echo "open', "echo a \\"]
    invalid_code_samples = ["nosuch 1", "echo ok\nbogus"]

    def test_helixfold_error_names_the_command_and_cause(self):
        self.flush_channels()
        reply, outputs = self.execute_helper("echo fine\nnosuch 3")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "CommandError")
        self.assertIn("unknown command 'nosuch'", reply["content"]["evalue"])
        self.assertEqual([m["msg_type"] for m in outputs], ["stream", "error"])
        self.assertEqual(outputs[0]["content"]["text"], "fine\n")
        self.assertIn("nosuch 3", outputs[1]["content"]["traceback"][0])

    def test_helixfold_interrupt_stops_a_running_cell(self):
        self.flush_channels()
        msg_id = self.kc.execute("sleep 60")
        time.sleep(0.5)
        started = time.monotonic()
        self.km.interrupt_kernel()
        reply = self.get_non_kernel_info_reply(timeout=15)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        self.assertLess(time.monotonic() - started, 15)
        self.flush_channels()

    def test_helixfold_silent_cells_publish_no_output_and_keep_the_count(self):
        self.flush_channels()
        first, _ = self.execute_helper("device")
        reply, outputs = self.execute_helper("echo hidden", silent=True)
        self.assertEqual(outputs, [])
        self.assertEqual(reply["content"]["execution_count"], first["content"]["execution_count"])

    def test_helixfold_session_state_persists_between_cells(self):
        self.flush_channels()
        self.execute_helper("echo marker-7f3a")
        reply, outputs = self.execute_helper("history 3")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertIn("marker-7f3a", outputs[0]["content"]["data"]["text/plain"])


if __name__ == "__main__":
    unittest.main()
