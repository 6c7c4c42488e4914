# mostajs: the PostgreSQL extension (built with PGXS) and the project targets.
#
#   make / make install   build and install the extension into pg_config's PostgreSQL
#   make deps             install every Debian package needed (scripts/install-deps)
#   make cpp              build the sidecar, tools and C++ tests with CMake (build/)
#   make check            all tests on a throwaway cluster (scripts/check)
#   make check-containers builds docker/'s images with podman and runs them end to end
#                         (scripts/check-containers; CI runs it after make check)
#   make demo             the extension loaded into a running local cluster, with a tour
#   make bench            benchmarks (bench/); never part of make check

EXTENSION = mostajs
# the release is written once, in mostajs.control
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" mostajs.control)
MODULE_big = mostajs

# The extension's C++ sources, plus the shared library (common/) compiled in.
EXTENSION_SOURCES = $(wildcard extension/src/*.cpp extension/src/*/*.cpp)
COMMON_SOURCES = $(wildcard common/src/*.cpp)
OBJS = $(patsubst %.cpp,%.o,$(EXTENSION_SOURCES) $(COMMON_SOURCES))

# The install script is made from sql/parts/*.sql, concatenated in name order (10_core.sql first), so that
# each area of the SQL API keeps a file of its own.
SQL_PARTS = $(sort $(wildcard sql/parts/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
# Released install scripts stay installable (CREATE EXTENSION mostajs VERSION '0.1.0'), frozen as shipped, and
# each upgrade script takes one release to the next (ALTER EXTENSION mostajs UPDATE); see docs/upgrading.md.
DATA = sql/$(EXTENSION)--0.1.0.sql sql/$(EXTENSION)--0.1.0--0.2.0.sql

PG_CPPFLAGS = -I$(srcdir)/extension/include -I$(srcdir)/common/include -I$(shell $(PG_CONFIG) --includedir)
PG_CXXFLAGS = -std=c++17 -fPIC -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register \
	$(if $(MOSTA_WERROR),-Werror)
SHLIB_LINK = -lpq -lstdc++

# Decoding regression tests (test_decoding style, one file per feature), run
# by "make installcheck" against the server in PGHOST/PGPORT; the plugin needs
# no CREATE EXTENSION, so the tests do not depend on the install script.
REGRESS = $(patsubst test/regress/sql/%.sql,%,$(wildcard test/regress/sql/*.sql))
REGRESS_OPTS = --inputdir=test/regress --outputdir=test/regress
EXTRA_CLEAN = test/regress/results test/regress/regression.diffs test/regress/regression.out

PG_CONFIG ?= pg_config
# The project targets run scripts that install PostgreSQL first and call make
# again for the extension, so they must work before pg_config exists; they
# also replace PGXS's own "check". Load PGXS only for the other goals.
PROJECT_GOALS = deps cpp check check-containers demo bench
ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out $(PROJECT_GOALS),$(MAKECMDGOALS)),)
SKIP_PGXS = 1
endif
endif
ifndef SKIP_PGXS
PGXS := $(shell $(PG_CONFIG) --pgxs)
ifeq ($(PGXS),)
$(error pg_config not found: run "make deps" first (or set PG_CONFIG))
endif
# JIT bitcode would need clang at build time and buys nothing for this code.
override with_llvm = no
include $(PGXS)
endif

$(DATA_built): $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

CMAKE_BUILD_DIR ?= build
CMAKE_FLAGS ?=

.PHONY: $(PROJECT_GOALS)

deps:
	bash scripts/install-deps

cpp:
	cmake -S . -B $(CMAKE_BUILD_DIR) $(CMAKE_FLAGS)
	cmake --build $(CMAKE_BUILD_DIR) -j2

# PGXS has a "check" of its own (which refuses to run); ours replaces it.
ifdef SKIP_PGXS
check:
	bash scripts/check

check-containers:
	bash scripts/check-containers

demo:
	bash scripts/demo

bench:
	bash bench/run-all
endif
