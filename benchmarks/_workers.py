"""What benchmark tasks run on Dask workers: importable, so that workers unpickle them by reference."""

import torch


class ThreadsSeen(torch.nn.Module):
    """A black-box wrapper that records ``torch.get_num_threads()`` each time the model runs (on the worker)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.register_buffer("threads", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        self.threads.fill_(max(int(self.threads), torch.get_num_threads()))
        return self.model(x)


def worker_threads(explainer, chunk):
    """On a worker: the torch threads of the model's calls inside the library's chunk task, and the worker's own."""
    from sklearn_tsmask.parallel import _explain_chunk

    _explain_chunk(explainer, (torch.as_tensor(chunk), {}), 1)  # what explain_in_chunks runs per chunk
    return int(explainer.model_.function.threads), torch.get_num_threads()
