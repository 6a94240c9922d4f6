// emkit: Expectation-Maximization for latent-variable models. The umbrella header of the
// header-only C++ core (target emkit::emkit): every structure, family and driver, and the one-call
// fits of fit.hpp.
#pragma once

#include "em.hpp"
#include "emissions/categorical.hpp"
#include "emissions/gaussian.hpp"
#include "emissions/gaussian_mixture_emission.hpp"
#include "emissions/normal_items.hpp"
#include "emissions/poisson.hpp"
#include "emissions/product.hpp"
#include "fit.hpp"
#include "init.hpp"
#include "parallel.hpp"
#include "patterns.hpp"
#include "structures/contingency_table.hpp"
#include "structures/hmm.hpp"
#include "structures/mixture.hpp"
#include "structures/mixture_regression.hpp"
#include "types.hpp"

namespace emkit {

using LatentClassRegression = MixtureRegression<Categorical>;
using MixedLatentClassModel = Mixture<Product>;
// The one-call Gaussian mixture fit's result (fit.hpp), under its earlier name.
using GaussianMixtureFit = ModelFit<GaussianMixture>;
using PoissonMixture = Mixture<Poisson>;
using PoissonHMM = HMM<Poisson>;

}  // namespace emkit
