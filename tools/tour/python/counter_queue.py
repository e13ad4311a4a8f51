"""The counter behind a message queue, from seed 000: only one worker thread touches the Counter.

    python3 counter_queue.py [messages per producer]

Two producers put 'increment' messages; the worker applies them. The count is exact.
"""
import threading
from queue import Queue

from _tour import arg, result, timed


class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1


def run(n):
    c = Counter()
    message_queue = Queue()

    def message_queue_worker():
        while True:
            command = message_queue.get()
            if command == 'increment':
                c.increment()
            message_queue.task_done()
            if command == 'stop':
                return

    def producer():
        for i in range(n):
            message_queue.put('increment')

    mqw = threading.Thread(target=message_queue_worker)
    mqw.start()
    t1 = threading.Thread(target=producer)
    t1.start()
    t2 = threading.Thread(target=producer)
    t2.start()
    t1.join()
    t2.join()
    message_queue.join()          # every increment applied
    message_queue.put('stop')
    mqw.join()
    return c.count


if __name__ == "__main__":
    n = arg(1, 100000)
    count, t = timed(run, n)
    print(f"Counter: {count} (expected {2 * n}) in {t:.3f}s")
    result("n", n)
    result("count", count)
    result("seconds", t)
