"""The Python side of the emission families: per family its validation, default priors,
seeding and column layout, used by the mixture, latent class and HMM estimators alike."""
