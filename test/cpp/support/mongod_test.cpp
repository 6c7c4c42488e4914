#include <gtest/gtest.h>
TEST(MongodTest, Placeholder) {}
