/*
 * topology_tree_test.cpp
 *     Tests of the topology tree. ReplaceFileAtomically runs in temporary directories: a new file, a replaced one,
 *     exact content, no temporary file left behind on success or failure, errors that name the path. The
 *     TopologyTreeIT tests need a real PostgreSQL 15 where the mostajs extension is installed, found through
 *     PGHOST/PGPORT/PGUSER (for example under scripts/pg-cluster run); without those variables they are skipped.
 *     Failures use a missing directory or a file in place of a directory, not permissions: tests may run as root.
 */
#include "app/topology_tree.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "pg/errors.hpp"
#include "pg/handles.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace sc = mosta::sidecar;

// TempDir is a fresh temporary directory, removed afterwards.
class TempDir {
  public:
	TempDir() {
		std::string pattern = (fs::temp_directory_path() / "mosta-tree-XXXXXX").string();
		if (mkdtemp(pattern.data()) == nullptr)
			throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
		path_ = pattern;
	}
	~TempDir() {
		std::error_code ignored;
		fs::remove_all(path_, ignored);
	}
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	// File returns the path of name inside the directory.
	std::string
	File(const std::string &name) const {
		return (path_ / name).string();
	}

	// Names returns the directory's entry names, sorted.
	std::vector<std::string>
	Names() const {
		std::vector<std::string> names;
		for (const auto &entry : fs::directory_iterator(path_))
			names.push_back(entry.path().filename().string());
		std::sort(names.begin(), names.end());
		return names;
	}

  private:
	fs::path path_;
};

// ReadAll returns the file's content.
std::string
ReadAll(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

// WriteAll creates or truncates path with content.
void
WriteAll(const std::string &path, const std::string &content) {
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << content;
}

// TemporaryName is the temporary file ReplaceFileAtomically uses for path in this process.
std::string
TemporaryName(const std::string &path) {
	return path + ".tmp." + std::to_string(::getpid());
}

// ReplaceError runs ReplaceFileAtomically(path, content) and returns what it threw (a failure when nothing).
std::system_error
ReplaceError(const std::string &path, std::string_view content) {
	try {
		sc::ReplaceFileAtomically(path, content);
	} catch (const std::system_error &error) {
		return error;
	}
	ADD_FAILURE() << "ReplaceFileAtomically(" << path << ") did not throw";
	return std::system_error(std::error_code());
}

TEST(ReplaceFileAtomically, CreatesAMissingFile) {
	TempDir dir;
	const std::string path = dir.File("tree.json");
	sc::ReplaceFileAtomically(path, "{\"version\": 1}\n");
	EXPECT_EQ(ReadAll(path), "{\"version\": 1}\n");
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"tree.json"});
}

TEST(ReplaceFileAtomically, ReplacesAnExistingFileWithExactContent) {
	TempDir dir;
	const std::string path = dir.File("tree.json");
	WriteAll(path, std::string(4096, 'x'));
	// a NUL, a non-ASCII byte and no final newline: written byte for byte
	const std::string content("{\"a\":\0\"\xc3\xa9\"}", 12);
	sc::ReplaceFileAtomically(path, content);
	EXPECT_EQ(ReadAll(path), content);
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"tree.json"});

	sc::ReplaceFileAtomically(path, "");
	EXPECT_EQ(ReadAll(path), "");
	EXPECT_EQ(fs::file_size(path), 0U);
}

TEST(ReplaceFileAtomically, DoesNotReuseAStaleTemporaryFile) {
	TempDir dir;
	const std::string path = dir.File("tree.json");
	WriteAll(TemporaryName(path), std::string(100, 'z')); // left by a crashed process that had our pid
	sc::ReplaceFileAtomically(path, "new");
	EXPECT_EQ(ReadAll(path), "new");
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"tree.json"});
}

TEST(ReplaceFileAtomically, ReplacesTheFileNotASymbolicLinkTarget) {
	TempDir dir;
	const std::string target = dir.File("target.json");
	const std::string path = dir.File("tree.json");
	WriteAll(target, "old");
	fs::create_symlink(target, path);
	sc::ReplaceFileAtomically(path, "new");
	EXPECT_FALSE(fs::is_symlink(path)) << "rename replaces the link itself";
	EXPECT_EQ(ReadAll(path), "new");
	EXPECT_EQ(ReadAll(target), "old");
}

TEST(ReplaceFileAtomically, WritesABareFileNameInTheCurrentDirectory) {
	TempDir dir;
	const fs::path saved = fs::current_path();
	fs::current_path(dir.File(""));
	try {
		sc::ReplaceFileAtomically("tree.json", "here");
	} catch (...) {
		fs::current_path(saved);
		throw;
	}
	fs::current_path(saved);
	EXPECT_EQ(ReadAll(dir.File("tree.json")), "here");
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"tree.json"});
}

TEST(ReplaceFileAtomically, MissingDirectoryThrowsNamingThePath) {
	TempDir dir;
	const std::string path = dir.File("no-such-dir") + "/tree.json";
	std::system_error error = ReplaceError(path, "{}");
	EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
	EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
	EXPECT_TRUE(dir.Names().empty());
}

TEST(ReplaceFileAtomically, FileInPlaceOfADirectoryThrowsNamingThePath) {
	TempDir dir;
	WriteAll(dir.File("plain"), "not a directory");
	const std::string path = dir.File("plain") + "/tree.json";
	std::system_error error = ReplaceError(path, "{}");
	EXPECT_EQ(error.code(), std::errc::not_a_directory);
	EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
	EXPECT_EQ(ReadAll(dir.File("plain")), "not a directory");
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"plain"});
}

TEST(ReplaceFileAtomically, FailedRenameRemovesTheTemporaryFile) {
	TempDir dir;
	const std::string path = dir.File("tree.json");
	fs::create_directory(path); // rename(2) cannot put a file over a directory
	WriteAll(dir.File("tree.json/keep"), "kept");
	std::system_error error = ReplaceError(path, "{}");
	EXPECT_EQ(error.code(), std::errc::is_a_directory);
	EXPECT_NE(std::string(error.what()).find("to " + path), std::string::npos) << error.what();
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"tree.json"}) << "the temporary file is removed";
	EXPECT_EQ(ReadAll(dir.File("tree.json/keep")), "kept");
}

// RunCoroutine runs body (whose co_await expressions build no temporaries: GCC 12 miscompiles those) on a fresh
// io_context until it finishes and rethrows what it threw.
void
RunCoroutine(std::function<asio::awaitable<void>()> body) {
	asio::io_context context;
	std::future<void> done = asio::co_spawn(context, std::move(body), asio::use_future);
	context.run();
	done.get();
}

// Sql is a plain blocking connection for the test's own queries (the environment names the server).
class Sql {
  public:
	// Sql connects or throws.
	Sql() : conn_(PQconnectdb("")) {
		if (PQstatus(conn_.get()) != CONNECTION_OK)
			throw std::runtime_error(std::string("test connection: ") + PQerrorMessage(conn_.get()));
	}

	// Query runs sql with text parameters and returns the first column of the first row ("" when there is none);
	// throws on error.
	std::string
	Query(const std::string &sql, const std::vector<std::string> &parameters = {}) {
		std::vector<const char *> values;
		for (const std::string &parameter : parameters)
			values.push_back(parameter.c_str());
		sc::PgResultHandle result(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
											   values.data(), nullptr, nullptr, 0));
		ExecStatusType status = PQresultStatus(result.get());
		if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
			throw std::runtime_error(sql + ": " + PQerrorMessage(conn_.get()));
		return status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
	}

  private:
	sc::PgConnHandle conn_;
};

constexpr const char *kProject = "mosta-it-tree";

// TopologyTreeIT needs a server with the mostajs extension available; it skips without PG* variables, and adds
// (then removes) one project whose replica URI carries a password.
class TopologyTreeIT : public ::testing::Test {
  protected:
	void
	SetUp() override {
		for (const char *variable : {"PGHOST", "PGPORT", "PGUSER"})
			if (std::getenv(variable) == nullptr)
				GTEST_SKIP() << variable << " is not set: no PostgreSQL server to test against (run under "
							 << "scripts/pg-cluster run, after make install)";
		sql_ = std::make_unique<Sql>();
		sql_->Query("SET client_min_messages = warning"); // no NOTICE when the extension is already there
		sql_->Query("CREATE EXTENSION IF NOT EXISTS mostajs");
		RemoveProject();
		sql_->Query("SELECT mosta_add_replica($1, 'primary', 'master', 'postgres', "
					"'postgresql://app:S3cretTree@db1:5432/shop')",
					{kProject});
	}

	void
	TearDown() override {
		if (sql_)
			RemoveProject();
	}

	// RemoveProject removes the test's replica (and so its project) if it is there.
	void
	RemoveProject() {
		sql_->Query("SELECT mosta_remove_replica($1, 'primary', if_exists => true)", {kProject});
	}

	std::unique_ptr<Sql> sql_;
};

TEST_F(TopologyTreeIT, WritesTheMaskedTopology) {
	TempDir dir;
	const std::string path = dir.File("tree.json");
	WriteAll(path, "old");
	RunCoroutine([&]() -> asio::awaitable<void> {
		asio::any_io_executor executor = co_await asio::this_coro::executor;
		sc::PgConnection conn(executor);
		co_await conn.Connect("", sc::ConnectionKind::Sql);
		co_await sc::WriteTopologyTree(conn, path);
	});
	const std::string tree = ReadAll(path);
	ASSERT_FALSE(tree.empty());
	EXPECT_EQ(tree.back(), '\n');
	EXPECT_EQ(tree.find("S3cret"), std::string::npos) << "a password reached the tree file";
	EXPECT_NE(tree.find("postgresql://app:***@db1:5432/shop"), std::string::npos) << tree;
	EXPECT_NE(tree.find("\n    \""), std::string::npos) << "pretty-printed";
	// the file is mosta_topology() as the server prints it, apart from the generation time
	EXPECT_EQ(sql_->Query("SELECT ($1::jsonb - 'generatedAt') = (mosta_topology() - 'generatedAt')", {tree}), "t");
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"tree.json"});
}

TEST_F(TopologyTreeIT, QueryErrorLeavesTheFileAlone) {
	TempDir dir;
	const std::string path = dir.File("tree.json");
	WriteAll(path, "old");
	std::string sqlstate = "none";
	RunCoroutine([&]() -> asio::awaitable<void> {
		asio::any_io_executor executor = co_await asio::this_coro::executor;
		sc::PgConnection conn(executor);
		co_await conn.Connect("", sc::ConnectionKind::Sql);
		const std::string hide = "SET search_path = pg_catalog"; // mosta_topology() is no longer found
		co_await conn.Exec("hiding the extension", hide);
		try {
			co_await sc::WriteTopologyTree(conn, path);
		} catch (const sc::PgError &error) {
			sqlstate = error.SqlState();
		}
	});
	EXPECT_EQ(sqlstate, "42883");
	EXPECT_EQ(ReadAll(path), "old");
	EXPECT_EQ(dir.Names(), std::vector<std::string>{"tree.json"});
}

} // namespace
