print("kk")
