"""One step of any GAN, with no files, CLI or sampler: assembly (build_engine), the adversarial update, precision,
distribution and EMA."""
