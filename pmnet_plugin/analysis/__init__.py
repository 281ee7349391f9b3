"""Analysis code behind the tools: feature caches and the label distribution of Balanced MSE's GAI."""
