"""Op kernels, one module per op family. Importing this package registers all of them."""
