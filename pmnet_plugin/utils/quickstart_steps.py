"""The steps of ``tools/quickstart.py`` (and ``tools/head_study.py``): subprocesses run one by one or side by side.

A failing step lets the steps running beside it finish (their outputs are complete and reused by a rerun)
and then stops the tool naming it; an exception or a signal in the tool ends its running
children (:func:`end_children`), so none trains on after it.
"""
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List

__all__ = ['Steps', 'end_children']


class Steps:
    """Runs numbered steps as subprocesses, prints progress and keeps their wall times.

    Args:
        total (int): The number of steps, for the progress lines.
        root (str): The folder the steps run in; relative ``skip_if`` and log paths are under it.
        tool (str): The name the progress and error lines start with. Defaults to ``'quickstart'``.
    """

    def __init__(self, total: int, root: str = '.', tool: str = 'quickstart') -> None:
        self.total, self.done, self.times, self.root, self.tool = total, 0, {}, root, tool
        self.start = time.time()

    def run(self, name: str, cmd: List[str], skip_if: str = None, log: str = None) -> None:
        """One step: skipped when ``skip_if`` exists, its output to ``log`` (else to the console)."""
        if skip_if and osp.exists(osp.join(self.root, skip_if)):
            self.skip(name, f'exists ({skip_if})')
            return
        self.run_many(name, [(name, cmd, log)], parallel=1)

    def skip(self, name: str, why: str) -> None:
        """Counts a step whose output is reused."""
        self.done += 1
        print(f'[{self.tool} {self.done}/{self.total} | {time.time() - self.start:6.0f}s] {name}: {why}, skipped',
              flush=True)

    def run_many(self, label: str, jobs: List[tuple], parallel: int) -> None:
        """Runs ``(name, cmd, log)`` jobs, up to ``parallel`` at a time; each is one step, and ``label``
        names their wall time together. A job's output goes to its ``log`` (the console when None)."""
        pending, running, failed = list(jobs), [], []
        t0 = time.time()
        env = os.environ.copy()
        side_by_side = min(parallel, len(jobs))
        if side_by_side > 1:  # each job gets its share of the cores: more threads than cores stall OpenMP
            threads = str(max(1, (os.cpu_count() or 1) // side_by_side))
            env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        try:
            self._run_jobs(pending, running, failed, parallel, env)
        finally:  # an exception or a signal: the children end with this process
            end_children([job[1] for job in running])
        if failed:
            name, code, log = failed[0]
            tail = open(osp.join(self.root, log)).read()[-3000:] if log else ''
            others = f' ({len(failed) - 1} more failed: ' + ', '.join(f[0] for f in failed[1:]) + ')' \
                if len(failed) > 1 else ''
            sys.exit(f'{self.tool}: step "{name}" failed (exit {code}){others}. Steps running beside it were let '
                     f'finish; rerun the same command to continue from the outputs kept.\n{tail}')
        if parallel > 1 and len(jobs) > 1:
            self.times[f'{label}: wall time, {min(parallel, len(jobs))} side by side'] = time.time() - t0

    def _run_jobs(self, pending: list, running: list, failed: list, parallel: int, env: dict) -> None:
        """Starts jobs (none after a failure) and collects them; a failure is recorded in ``failed``."""
        while running or (pending and not failed):
            while pending and len(running) < parallel and not failed:
                name, cmd, log = pending.pop(0)
                self.done += 1
                side = f' (side by side: {len(running) + 1})' if parallel > 1 else ''
                print(f'[{self.tool} {self.done}/{self.total} | {time.time() - self.start:6.0f}s] {name}{side} '
                      f'...\n    $ {" ".join(cmd)}', flush=True)
                out = open(osp.join(self.root, log), 'w') if log else None
                proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=out,
                                        stderr=subprocess.STDOUT if out else None)
                running.append((name, proc, out, log, time.time()))
            time.sleep(0.2)
            for job in [j for j in running if j[1].poll() is not None]:
                name, proc, out, log, started = job
                if out:
                    out.close()
                running.remove(job)
                if proc.returncode != 0:
                    failed.append((name, proc.returncode, log))
                    if running:
                        print(f'    {name}: failed (exit {proc.returncode}); letting '
                              f'{", ".join(j[0] for j in running)} finish', flush=True)
                    continue
                self.times[name] = time.time() - started
                print(f'    {name}: done in {self.times[name]:.0f} s', flush=True)


def end_children(procs: List[subprocess.Popen], grace: float = 10.0) -> None:
    """Terminates the child processes still running, then kills those that outlive ``grace`` seconds."""
    alive = [p for p in procs if p.poll() is None]
    for proc in alive:
        proc.terminate()
    deadline = time.time() + grace
    for proc in alive:
        try:
            proc.wait(max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
